"""Peak memory of one run: its own, above what the process held when the run started.

A process that runs several jobs (a sequential sweep, the tests) would otherwise report, for every
later run, the largest footprint of any earlier one, and the memory that earlier runs, loaded
libraries and cached data still hold. So the high-water mark is reset when the run starts, what is
in use then is the baseline, and the figure is the peak minus the baseline:

- ``cuda_max_allocated`` (CUDA device): :func:`torch.cuda.reset_peak_memory_stats`, then
  :func:`torch.cuda.max_memory_allocated` minus :func:`torch.cuda.memory_allocated` at the start
  -- the tensors' bytes, not the caching allocator's reserve;
- ``vm_hwm`` (Linux, CPU): garbage collected and freed heap memory handed back to the system
  (glibc's ``malloc_trim``, so that memory freed by an earlier run is not reused unseen), then
  writing ``5`` to ``/proc/self/clear_refs`` resets the resident-set high-water mark to the
  current resident set ``VmRSS``, the baseline; the figure is ``VmHWM`` at the end minus it.
  glibc's threshold above which a block is mapped on its own (and unmapped when freed) is fixed
  at 2 MiB for the process, so the figure counts the large tensors the run holds at once, not
  what the heap kept from earlier steps and runs. Left dynamic (glibc's default, which grows it
  up to 32 MiB as blocks are freed), seven runs of one NAR job in one process peaked anywhere
  from 350 to 457 MB; fixed, within 1%. Cost: none measurable at the protocols' batch sizes (NAR
  quick, Tree-NeighborsMatch depth 4); up to 30% on steps that churn many blocks above 2 MiB (a
  NAR batch of 4,096 graphs at width 128);
- ``process_lifetime_max_rss`` (elsewhere, or where ``/proc`` may not be written): the process's
  maximum resident set size from ``getrusage``, which cannot be reset -- an absolute upper bound.

Example::

    peak = PeakMemory(device)   # the baseline, and the mark reset
    ...                         # train
    megabytes, measure = peak.read()
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import re
import sys
from pathlib import Path

import torch

CLEAR_REFS = Path("/proc/self/clear_refs")
STATUS = Path("/proc/self/status")


class PeakMemory:
    """The high-water mark of memory use on `device` from construction to :meth:`read`, above
    the memory in use at construction.

    Args:
        device: the run's device; CUDA devices are measured on the device, anything else as the
            process's resident set.

    Attributes:
        measure: how it is measured (``cuda_max_allocated`` | ``vm_hwm`` |
            ``process_lifetime_max_rss``), stored with the number as ``memory_measure``.
        baseline_mb: what was in use at the start (MiB), subtracted from the peak.
    """

    def __init__(self, device: torch.device):
        self.device = device
        self.baseline_mb = 0.0
        if device.type == "cuda":
            torch.cuda.synchronize(device)
            self.baseline_mb = torch.cuda.memory_allocated(device) / 2**20
            torch.cuda.reset_peak_memory_stats(device)
            self.measure = "cuda_max_allocated"
            return
        gc.collect()
        fix_mmap_threshold()
        release_free_heap()
        if reset_resident_high_water_mark():
            self.baseline_mb = status_mb("VmRSS")
            self.measure = "vm_hwm"
        else:
            self.measure = "process_lifetime_max_rss"

    def read(self) -> tuple[float, str]:
        """(peak in MiB above the baseline, measure) since construction."""
        if self.measure == "cuda_max_allocated":
            peak = torch.cuda.max_memory_allocated(self.device) / 2**20
        elif self.measure == "vm_hwm":
            peak = status_mb("VmHWM")
        else:
            return lifetime_max_rss_mb(), self.measure
        return max(0.0, peak - self.baseline_mb), self.measure


def status_mb(field: str) -> float:
    """A ``kB`` field of ``/proc/self/status`` (VmRSS, VmHWM) in MiB."""
    kib = re.search(rf"^{field}:\s+(\d+) kB", STATUS.read_text(), re.MULTILINE)
    return int(kib.group(1)) / 1024


def reset_resident_high_water_mark() -> bool:
    """Reset Linux's VmHWM to the current resident set; False where that is not possible."""
    try:
        CLEAR_REFS.write_text("5")
        return "VmHWM:" in STATUS.read_text()
    except OSError:  # not Linux, a kernel before 4.0, or /proc mounted read-only
        return False


M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter (malloc.h)
MMAP_THRESHOLD_BYTES = 2 * 2**20


@functools.cache
def c_library() -> ctypes.CDLL | None:
    """The process's C library, or None where ctypes cannot load it (looked up once: finding it
    runs ``ldconfig``)."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c"))
    except (OSError, TypeError):
        return None


def fix_mmap_threshold() -> None:
    """Map every heap block of at least 2 MiB on its own, for the whole process (glibc's
    ``mallopt(M_MMAP_THRESHOLD, 2 MiB)``, which also stops the threshold from adapting; nothing
    where the C library has no ``mallopt``)."""
    libc = c_library()
    if libc is not None and hasattr(libc, "mallopt"):
        libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)


def release_free_heap() -> None:
    """Return the C heap's free pages to the system (glibc's ``malloc_trim(0)``; nothing where
    the C library has none)."""
    libc = c_library()
    if libc is not None and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)


def lifetime_max_rss_mb() -> float:
    """The process's maximum resident set size so far, in MiB (getrusage; KiB on Linux, bytes
    on macOS)."""
    import resource  # not on Windows

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 1024
