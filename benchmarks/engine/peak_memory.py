"""Peak memory of one run, not of the whole process's life.

A process that runs several jobs (a sequential sweep, the tests) would otherwise report, for every
later run, the largest footprint of any earlier one. So the high-water mark is reset when the run
starts and read when it ends:

- ``cuda_max_allocated`` (CUDA device): :func:`torch.cuda.reset_peak_memory_stats`, then
  :func:`torch.cuda.max_memory_allocated` -- the tensors' bytes, not the caching allocator's
  reserve;
- ``vm_hwm`` (Linux, CPU): writing ``5`` to ``/proc/self/clear_refs`` resets the resident-set
  high-water mark to the current resident set, then ``VmHWM`` in ``/proc/self/status`` is the
  largest resident set since (libraries and data already loaded count too);
- ``process_lifetime_max_rss`` (elsewhere, or where ``/proc`` may not be written): the process's
  maximum resident set size from ``getrusage``, which cannot be reset -- an upper bound for runs
  after the first.

Example::

    peak = PeakMemory(device)   # resets the mark
    ...                         # train
    megabytes, measure = peak.read()
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import torch

CLEAR_REFS = Path("/proc/self/clear_refs")
STATUS = Path("/proc/self/status")


class PeakMemory:
    """The high-water mark of memory use on `device` from construction to :meth:`read`.

    Args:
        device: the run's device; CUDA devices are measured on the device, anything else as the
            process's resident set.

    Attributes:
        measure: how it is measured (``cuda_max_allocated`` | ``vm_hwm`` |
            ``process_lifetime_max_rss``), stored with the number as ``memory_measure``.
    """

    def __init__(self, device: torch.device):
        self.device = device
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
            self.measure = "cuda_max_allocated"
        elif reset_resident_high_water_mark():
            self.measure = "vm_hwm"
        else:
            self.measure = "process_lifetime_max_rss"

    def read(self) -> tuple[float, str]:
        """(peak in MiB, measure) since construction."""
        if self.measure == "cuda_max_allocated":
            return torch.cuda.max_memory_allocated(self.device) / 2**20, self.measure
        if self.measure == "vm_hwm":
            kib = re.search(r"^VmHWM:\s+(\d+) kB", STATUS.read_text(), re.MULTILINE)
            return int(kib.group(1)) / 1024, self.measure
        return lifetime_max_rss_mb(), self.measure


def reset_resident_high_water_mark() -> bool:
    """Reset Linux's VmHWM to the current resident set; False where that is not possible."""
    try:
        CLEAR_REFS.write_text("5")
        return "VmHWM:" in STATUS.read_text()
    except OSError:  # not Linux, a kernel before 4.0, or /proc mounted read-only
        return False


def lifetime_max_rss_mb() -> float:
    """The process's maximum resident set size so far, in MiB (getrusage; KiB on Linux, bytes
    on macOS)."""
    import resource  # not on Windows

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 1024
