from .api import simulations, stats, stress, synthetic

urlpatterns = [*simulations.urlpatterns, *stress.urlpatterns, *synthetic.urlpatterns, *stats.urlpatterns]
