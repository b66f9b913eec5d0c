"""Data-generation speed of the locally generated long-range tasks, against the issue's targets.

    python -m benchmarks.speed.data              # medians of 3
    python -m benchmarks.speed.data --repeats 5

- Graph transfer, each topology at d = 10 and 50: building the task (topology and its distance
  matrix, which the k-hop sets and the sensitivity metrics use) and generating all three splits
  (1000 / 100 / 100 graphs). Target: under 1 s.
- GPP at full size (5120 / 640 / 1280 graphs): all three targets, i.e. one generation of the
  graphs and their shortest-path distances, shared by the targets through the per-process cache
  (cleared before every repetition). Target: under 5 s.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from benchmarks.tasks import GPP, GraphTransfer
from benchmarks.tasks.gpp import generate_split


def graph_transfer(topology: str, distance: int) -> None:
    task = GraphTransfer(topology, distance)
    task.topology.distances  # noqa: B018 - built once per task, part of getting the data ready
    task.generate(0)


def gpp_all_targets() -> None:
    generate_split.cache_clear()
    for target in ("diameter", "eccentricity", "sssp"):
        GPP(target).generate(0)


def median_seconds(fn: Callable[[], None], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    cases = [
        (
            f"graph transfer {topology} d={d}",
            "1200 graphs",
            1.0,
            lambda t=topology, d=d: graph_transfer(t, d),
        )
        for topology in ("line", "ring", "crossed_ring")
        for d in (10, 50)
    ]
    cases.append(("GPP, all three targets", "7040 graphs", 5.0, gpp_all_targets))
    rows = []
    print(f"{'data':<32} {'size':>12} {'median s':>9} {'target s':>9}")
    for name, size, target, fn in cases:
        seconds = median_seconds(fn, args.repeats)
        verdict = "ok" if seconds < target else "SLOW"
        print(f"{name:<32} {size:>12} {seconds:>9.4f} {'< ' + format(target, 'g'):>9}  {verdict}")
        rows.append({"data": name, "seconds": seconds, "target_s": target})
    return rows


if __name__ == "__main__":
    main()
