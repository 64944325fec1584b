"""scratchnet: the course's neural networks from scratch in NumPy, tracked and reproducible."""

__version__ = "0.1.0"
