"""The DVC stages, one thin module each: generate (the 2-D data sets), compare (the architecture
report and course 2's studies), errors (error analysis of the best cat model), experiment (the
`dvc exp run` config). Training itself is `python -m scratchnet.train`."""
