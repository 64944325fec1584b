"""Reports: the Document writer, plots, experiment folders read back, the architecture comparison,
course 2's studies and the cat error analysis."""
