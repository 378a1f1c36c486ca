"""Scenario 6, eviction quality: the C++ simulator (``sim.cpp``) and its driver (``__main__``)."""
