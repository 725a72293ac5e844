from .api import simulations, stats, stress

urlpatterns = [*simulations.urlpatterns, *stress.urlpatterns, *stats.urlpatterns]
