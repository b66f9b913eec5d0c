"""Over-squashing measurements (SPEC.md section 5): capacity in bits and Jacobian sensitivity."""

from benchmarks.metrics.capacity import (
    capacity_table,
    capacity_threshold,
    information_bits,
    peak_stored_bits,
    stored_bits,
)

__all__ = [
    "capacity_table",
    "capacity_threshold",
    "information_bits",
    "peak_stored_bits",
    "stored_bits",
]
