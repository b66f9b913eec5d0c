"""The benchmark suite: tasks, training protocols, metrics, results store and reports."""

import os

# torch's CPU build uses GNU OpenMP, whose idle threads spin by default: with another busy process
# on the machine a 2-thread GCN step went from 72 ms to 304 ms; passive waiting keeps it at
# 97-117 ms. Read once, when torch loads, so it is set here, before any torch import.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import benchmarks.config  # noqa: E402,F401  (registers the config resolvers)
