"""Stand-alone studies, each runnable as ``python -m benchmarks.studies.<name>``."""
