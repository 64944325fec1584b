"""The speed benchmark and its course-style reference, outside the installed package (it measures it)."""
