"""Routes of this part of the simulator API (filled in with its views)."""

urlpatterns: list = []
