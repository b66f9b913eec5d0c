"""Over-squashing measurements: capacity in bits, Jacobian sensitivity, range
(docs/measurements.md).

- :mod:`benchmarks.metrics.capacity`: I(a), stored bits, capacity threshold, peak stored bits.
- :mod:`benchmarks.metrics.sensitivity`: batched readout Jacobians, their per-node L1 norms, the
  selected / background ratio and the second-order mixing (NAR).
- :mod:`benchmarks.metrics.influence`: total influence per hop and the range (influence-weighted
  mean hop distance) per graph.
- :mod:`benchmarks.engine.measurements`: what the runner records per run (``sens/*``, ``cap/*``).
"""

from benchmarks.metrics.capacity import (
    capacity_table,
    capacity_threshold,
    information_bits,
    peak_stored_bits,
    stored_bits,
)
from benchmarks.metrics.influence import hop_influence, influence_range, range_summary
from benchmarks.metrics.sensitivity import (
    Sensitivity,
    jacobian_norms,
    measure_sensitivity,
    mixing_statistics,
    pairwise_ratio,
    readout_jacobian,
)

__all__ = [
    "Sensitivity",
    "capacity_table",
    "capacity_threshold",
    "hop_influence",
    "influence_range",
    "information_bits",
    "jacobian_norms",
    "measure_sensitivity",
    "mixing_statistics",
    "pairwise_ratio",
    "peak_stored_bits",
    "range_summary",
    "readout_jacobian",
    "stored_bits",
]
