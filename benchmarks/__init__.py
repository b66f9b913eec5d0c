"""The benchmark suite: tasks, training protocols, metrics, results store and reports."""

import os

# Intel OpenMP threads spin for 200 ms after each parallel region; on a 2-core machine that
# starves PyG's scatter kernels (GCN steps measured 45x slower). Read when torch first loads.
os.environ.setdefault("KMP_BLOCKTIME", "0")
