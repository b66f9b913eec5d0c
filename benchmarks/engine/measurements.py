"""The per-run over-squashing measurements the runner records after training (docs/measurements.md).

``measure(...)`` returns (in :class:`Measurements`) flat result.json keys:

- ``cap/*`` (classification tasks): ``cap/num_classes`` C, ``cap/info_bits`` I(a) at the run's
  reported accuracy a (its ``score``), and for NAR ``cap/bits`` = N I(a) with its ceiling
  ``cap/max_bits`` = N log2 C (see :mod:`benchmarks.metrics.capacity`);
- ``sens/*`` (unless ``sensitivity.enabled`` is false): see
  :func:`benchmarks.metrics.sensitivity.measure_sensitivity`, plus ``sens/time_s``. The
  Jacobians are those of the network as passed in (the runner passes the selected epoch's
  weights), measured on the first ``sensitivity.num_graphs`` graphs of the test
  split (the last split if there is no test split): w.r.t. the encoded input, or the raw features
  for NARR; ``sens/ratio`` is the public notebook's selected / background estimator (the mean of
  per-pair ratios) and ``sens/ratio_of_means`` the ratio of the two means; with
  ``sensitivity.mixing`` (NAR), ``sens/mixing_{max,mean,fro}_{selected,background}``;
  ``sens/range`` (and ``sens/range_std``) the range, the influence-weighted mean hop distance
  (:mod:`benchmarks.metrics.influence`), averaged over the measured graphs.

It also returns the sensitivity tables (per node, per hop, and per graph: its range and total
influence per hop) and a printed summary; the caller writes the tables as
``sensitivity_{nodes,hops,graphs}.csv`` next to result.json and logs them to the run logger
(:class:`Measurements`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch

from benchmarks.engine.run_logger import NullLogger
from benchmarks.metrics.capacity import information_bits, stored_bits
from benchmarks.metrics.sensitivity import Sensitivity, measure_sensitivity
from benchmarks.tasks import GraphSet, Task


def capacity(task: Task, accuracy: float, num_classes: int) -> dict:
    """cap/* keys for a classification run at accuracy `accuracy` over `num_classes` classes."""
    if task.kind != "classification" or accuracy is None or math.isnan(accuracy):
        return {}
    out = {"cap/num_classes": num_classes, "cap/info_bits": information_bits(accuracy, num_classes)}
    keys = getattr(task, "num_keys", None)
    if keys is not None:  # NAR: any of the N keys can be asked for
        out["cap/bits"] = stored_bits(accuracy, num_classes, keys)
        out["cap/max_bits"] = keys * math.log2(num_classes)
    return out


@dataclass
class Measurements:
    """What :func:`measure` found.

    Attributes:
        values: the flat result.json keys (``cap/*``, ``sens/*``).
        tables: the sensitivity tables by name: ``nodes``, ``hops``, ``graphs`` (empty when
            sensitivity was not measured).
        lines: the summary to print.
    """

    values: dict = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)

    def write_tables(self, out_dir: Path) -> None:
        """``sensitivity_<name>.csv`` for each table, in `out_dir` (a run directory)."""
        for name, table in self.tables.items():
            table.to_csv(Path(out_dir) / f"sensitivity_{name}.csv", index=False)

    def log(self, logger: NullLogger) -> None:
        """The tables, and mean sensitivity against hop distance as a line plot."""
        for name, table in self.tables.items():
            logger.table(f"sensitivity/{name}", table)
        if "hops" in self.tables:
            title = "mean |d out / d x_u|_1 by hop"
            logger.line_plot("sensitivity/by_hop", self.tables["hops"], "hop", "sens", title=title)


def measure(
    net,
    task: Task,
    data: dict[str, GraphSet],
    score: float | None,
    cfg,
    device: torch.device | str = "cpu",
) -> Measurements:
    """Capacity and sensitivity of a trained run.

    Args:
        net: the trained Network with the weights to measure (left in eval mode).
        task: the task; data: its splits (with `num_hops` set as for training).
        score: the run's reported score (the accuracy for capacity).
        cfg: the `sensitivity` config group (enabled, num_graphs, mixing).
        device: where to compute.
    """
    split = "test" if "test" in data else list(data)[-1]
    graphs = data[split]
    net.eval()
    out = Measurements()
    if task.metric == "acc":
        with torch.no_grad():
            num_outputs = net.graph_outputs(graphs.batch(torch.arange(1)).to(device)).shape[1]
        out.values = capacity(task, score, num_outputs)
    sens = None
    if cfg.enabled and not task.readout_node:
        out.lines.append(f"sensitivity: skipped, task {task.name} has no readout node per graph")
    elif cfg.enabled:
        t0 = time.perf_counter()
        sens = measure_sensitivity(net, task, graphs, cfg.num_graphs, cfg.mixing, device)
        out.values |= sens.summary | {"sens/time_s": time.perf_counter() - t0}
        out.tables = {"nodes": sens.nodes, "hops": sens.hops, "graphs": sens.graphs}
    out.lines += describe(out.values, sens, split)
    return out


def describe(out: dict, sens: Sensitivity | None, split: str) -> list[str]:
    """The printed summary: one line for sensitivity, one for capacity."""
    lines = []
    if sens is not None:
        hops = "  ".join(f"{r.hop}: {r.sens:.3g}" for r in sens.hops.itertuples())
        line = f"sensitivity ({out['sens/num_graphs']} {split} graphs), mean |J| by hop {hops}"
        line += f"; range {out['sens/range']:.3g} hops"
        if "sens/ratio" in out:
            line += (
                f"; selected/background {out['sens/ratio']:.3g} "
                f"(key {out.get('sens/ratio_key', math.nan):.3g}, "
                f"value {out.get('sens/ratio_value', math.nan):.3g})"
            )
        if "sens/mixing_max_selected" in out:
            line += (
                f"; mixing max selected {out['sens/mixing_max_selected']:.3g} vs background "
                f"{out['sens/mixing_max_background']:.3g}"
            )
        lines.append(line)
    if "cap/info_bits" in out:
        c = out["cap/num_classes"]
        line = f"capacity: {out['cap/info_bits']:.3g} of {math.log2(c):.3g} bits per query"
        if "cap/bits" in out:
            line += f", stored {out['cap/bits']:.3g} of {out['cap/max_bits']:.3g} bits"
        lines.append(line)
    return lines
