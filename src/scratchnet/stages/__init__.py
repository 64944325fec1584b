"""The DVC stages, one module each: make_planar (2-D data sets), compare (the architecture report),
errors (error analysis of the best cat model). Training itself is `python -m scratchnet.train`."""
