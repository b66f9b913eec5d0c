"""The benchmark suite: tasks, the run engine, metrics, the readers of the results store, tools.

Importing it sets one thing, and only because it must precede the first torch import: torch's CPU
build uses GNU OpenMP, whose idle threads spin by default; with another busy process on the
machine a 2-thread GCN step went from 72 ms to 304 ms, with passive waiting 97-117 ms. OpenMP reads
the variable once, when torch loads. A value set by the user wins.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
