"""Training-step speed and peak memory: gLSTM (parallel, recurrent, naive reference), graph
sLSTM and graph LSTM vs baselines.

    python -m benchmarks.speed               # NAR, NAR k-hop, tree: gLSTM's forms and baselines
    python -m benchmarks.speed --cases nar --repeats 50 --out results/speed.json
    python -m benchmarks.speed --cases tree_4 tree_8 ring_16 ring_64    # deep graphs vs GCN
    python -m benchmarks.speed --cases rewired    # rewired graphs and the virtual node
    python -m benchmarks.speed --device cuda # the same table on a GPU
    python -m benchmarks.speed --cases tree_8 --recompute    # gLSTM recomputing its layers

Each case builds every network exactly as ``run.py`` would (encoder, model, readout, from the
Hydra configs) and times one full training step: forward, loss, backward, AdamW step. Models are
timed side by side: each repetition runs one step of every model, in a rotating order, on the same
batch, so machine load affects all of them alike; the table reports medians (and the interquartile
range) over repetitions.

Peak memory is measured on one extra step per model with ``torch.profiler`` (``profile_memory``):
every allocation and release by torch's allocator, in order; the figure is the largest amount of
tensor memory allocated during the step above what was live before it (activations, saved
tensors, gradients, optimiser state updates and the temporaries inside each operator). Memory
allocated by libraries behind torch's back (e.g. MKL's sparse workspaces) is not seen.

On the deep graphs, "gLSTM linear maps only" runs every gLSTM layer's dense maps and nothing else
(its projections to k, v, the gates and the query halves, stacked into one matmul, and its output
map, with the residual), forward and backward, on the same batch: a lower bound on gLSTM's step
that no form of its memory can go below. "gLSTM without its memory" runs the whole layer (norms,
gates, stabiliser, query, output map) with the memory's write and read left out (each layer reads
its own values): what the layer costs on top of the floor before any memory. Below each of these
tables: gLSTM's step and that row as multiples of the floor.

With ``--recompute`` every gLSTM row runs with ``recompute=true`` (each layer recomputed in the
backward pass, only its output and memory writes kept: :class:`~glstm.block.GLSTMBlock`); the
table marks those rows. The other rows are unchanged.

The naive reference is gLSTM's recurrent form with the textbook aggregation: gather the per-node
matrix i_v [v_v; 1] k_v^T onto every edge ([H, nnz, (d_v + 1) d_k]) and scatter-add it to the
receivers.

Also timed: generating the full NAR dataset of the paper (8000 + 1000 + 1000 graphs, N = 96) and
preparing its k-hop pair sets (distances on the shared topology, the pairs at each distance, and
their tiling for a batch of 64).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile

from benchmarks.engine.runner import prepare
from benchmarks.speed import run_config
from benchmarks.tasks import NAR
from glstm.memory import Memory, RecurrentMemory
from glstm.neighbourhoods import layer_neighbourhoods


class NaiveRecurrentMemory(RecurrentMemory):
    """The recurrent form with one d_v x d_k matrix per edge (the benchmark's reference)."""

    def aggregate(self, adj, outer, entry_gate):
        heads, n, width = outer.shape
        per_edge = outer[:, adj.col]  # [H, nnz, (d_v + 1) d_k]
        if entry_gate is not None:
            per_edge = per_edge * entry_gate[..., None]
        return outer.new_zeros(heads, n, width).index_add_(1, adj.row, per_edge)


class NoMemory(Memory):
    """No memory: a layer reads back its own values, ``num = v`` and
    ``den = 1 + exp(k . q + log f + i)`` (above the layer's clamp at 1, so that every projection
    gets a gradient): the layer without its memory."""

    def step(self, adj, k, v, log_f, node_gate, entry_gate, q, remake=None):
        score = (k * q).sum(-1)
        for gate in (log_f, node_gate):
            score = score if gate is None else score + gate
        return v, 1.0 + score.exp()


@dataclass
class Contender:
    name: str
    overrides: list[str]
    naive: bool = False
    linear_maps_only: bool = False
    without_memory: bool = False


def with_recompute(contender: Contender) -> Contender:
    """The contender with ``+model.recompute=true`` if it is a gLSTM (``model=glstm...``)."""
    if not any(o.startswith("model=glstm") for o in contender.overrides):
        return contender
    return replace(contender, overrides=[*contender.overrides, "+model.recompute=true"])


def linear_maps_step(model, x: torch.Tensor) -> torch.Tensor:
    """gLSTM's dense maps alone, layer by layer: x <- x + W_out (W_fused x)[:, v's columns].

    W_fused ``[sum of widths, d]`` stacks the layer's projections to k, v, the gates and both
    query halves (one matmul, at least as fast as the layer's one per part), W_out ``[d, H d_v]``
    is its output map, applied to a copy of v's columns (so that each layer keeps only those for
    the backward pass, as gLSTM's own layer does); the memory (and its reads) is left out.

    Args:
        model (GLSTM): the network's gLSTM.
        x (Tensor): encoded node states ``[N, d]``.

    Returns:
        Tensor ``[N, d]``.
    """
    for block in model.blocks:
        for i in range(block.num_layers):
            layer = block.layers[0 if block.share_weights else i]
            values = slice(
                layer.heads * layer.key_dim, layer.heads * (layer.key_dim + layer.value_dim)
            )
            parts = layer.projections()
            weight = torch.cat([w for w, _ in parts])
            bias = torch.cat([w.new_zeros(len(w)) if b is None else b for w, b in parts])
            # a copy of v's columns: the output map saves only them, not the whole [N, width]
            x = x + layer.lin_out(F.linear(x, weight, bias)[:, values].contiguous())
    return x


NAR_GLSTM = ["model=glstm", "model.dim=64", "model.heads=1", "model.memory_dim=32"]
TREE_GLSTM = ["model=glstm", "model.dim=32"]

CASES = {
    "nar": (
        "NAR, N = 96, d = 64, batch 64, 2 layers (gLSTM: H = 1, d_k = d_v = 32)",
        ["task=nar", "task.num_keys=96", "task.num_train=512", "task.num_val=8", "task.num_test=8"],
        [
            Contender("gLSTM parallel", [*NAR_GLSTM, "model.form=parallel"]),
            Contender("gLSTM recurrent", [*NAR_GLSTM, "model.form=recurrent"]),
            Contender("gLSTM naive", [*NAR_GLSTM, "model.form=recurrent"], naive=True),
            Contender("GCN", ["model=gcn", "model.dim=64"]),
            Contender("GIN", ["model=gin", "model.dim=64"]),
            Contender("GAT", ["model=gat", "model.dim=64"]),
            Contender("GGNN", ["model=ggnn", "model.dim=64"]),
            Contender("graph sLSTM", ["model=slstm", "model.dim=64"]),
            Contender("graph LSTM", ["model=lstm", "model.dim=64"]),
        ],
    ),
    "tree": (
        "Tree-NeighborsMatch, depth 5, d = 32, batch 1024, 6 layers (gLSTM: H = 4, d_k = 16)",
        ["task=tree_neighbors_match", "task.depth=5"],
        [
            Contender("gLSTM parallel", [*TREE_GLSTM, "model.form=parallel"]),
            Contender("gLSTM recurrent", [*TREE_GLSTM, "model.form=recurrent"]),
            Contender("gLSTM naive", [*TREE_GLSTM, "model.form=recurrent"], naive=True),
            Contender("GCN", ["model=gcn", "model.dim=32"]),
            Contender("GIN", ["model=gin", "model.dim=32"]),
            Contender("GAT", ["model=gat", "model.dim=32"]),
            Contender("GGNN", ["model=ggnn", "model.dim=32"]),
        ],
    ),
}
CASES["nar_khop"] = (
    CASES["nar"][0].replace("2 layers", "2 layers, k-hop"),
    CASES["nar"][1],
    [Contender(c.name, [*c.overrides, "model.khop=true"], c.naive) for c in CASES["nar"][2]],
)
# Deep graphs: gLSTM (its `auto` form) against GCN at equal width, on Tree-NeighborsMatch as the
# tree_neighbors_match experiment runs it (Alon & Yahav's batch per depth, depth + 1 layers) and
# on RingTransfer as ring_transfer does (the paper's gLSTM: H = 1, d_k = 21, d = 16, k-hop;
# batch 16, `distance` layers).
for depth in range(4, 9):
    CASES[f"tree_{depth}"] = (
        f"Tree-NeighborsMatch, depth {depth}, d = 32, {depth + 1} layers (gLSTM: H = 4, d_k = 16)",
        ["task=tree_neighbors_match", f"task.depth={depth}"],
        [
            Contender("gLSTM", TREE_GLSTM),
            Contender("gLSTM without its memory", TREE_GLSTM, without_memory=True),
            Contender("gLSTM linear maps only", TREE_GLSTM, linear_maps_only=True),
            Contender("GCN", ["model=gcn", "model.dim=32"]),
        ],
    )
for distance in (16, 32, 64):
    CASES[f"ring_{distance}"] = (
        f"RingTransfer, distance {distance}, d = 16, batch 16, {distance} layers "
        "(gLSTM: H = 1, d_k = 21, k-hop)",
        ["task=ring_transfer", f"task.distance={distance}"],
        [
            Contender("gLSTM", ["model=glstm_paper/glstm_ring"]),
            Contender(
                "gLSTM without its memory", ["model=glstm_paper/glstm_ring"], without_memory=True
            ),
            Contender(
                "gLSTM linear maps only", ["model=glstm_paper/glstm_ring"], linear_maps_only=True
            ),
            Contender("GCN", ["model=gcn", "model.dim=16"]),
        ],
    )
# Remedies that change the graph: the rewired topology (10 edges per graph by default) and the
# virtual node, next to the plain graph, on RingTransfer at distance 16 (batch 16, 16 layers).
RING = ["task=ring_transfer", "task.distance=16"]
RING_GLSTM_EDGES = ["model=glstm_paper/glstm_ring", "model.khop=false"]
CASES["rewired"] = (
    "RingTransfer, distance 16, d = 16, batch 16, 16 layers: plain, rewired, virtual node",
    RING,
    [
        Contender("GCN", ["model=gcn", "model.dim=16"]),
        Contender("GCN + FoSR", ["model=gcn", "model.dim=16", "rewiring=fosr"]),
        Contender("GCN + SDRF", ["model=gcn", "model.dim=16", "rewiring=sdrf"]),
        Contender("GCN + virtual node", ["model=gcn", "model.dim=16", "virtual_node=true"]),
        # without k-hop: k-hop layers read the original hop sets, and the runner refuses them
        # with a remedy
        Contender("gLSTM", [*RING_GLSTM_EDGES]),
        Contender("gLSTM + FoSR", [*RING_GLSTM_EDGES, "rewiring=fosr"]),
        Contender("gLSTM + virtual node", [*RING_GLSTM_EDGES, "virtual_node=true"]),
    ],
)
FORMS = ("nar", "nar_khop", "tree")  # the cases that compare gLSTM's forms


# the naive reference takes 15 s (NAR k-hop) and 45 s (tree) per step on one core
DEFAULT_REPEATS = {"nar": 30, "nar_khop": 10, "tree": 5} | {
    name: 5 for name in CASES if name not in FORMS
}


class Trainer:
    """One network, its optimiser and a training step, as run.py builds them."""

    def __init__(self, task_overrides: list[str], contender: Contender, device: str = "cpu"):
        cfg = run_config([*task_overrides, *contender.overrides], device)
        self.task, self.net, num_layers, self.device = prepare(cfg)
        if contender.naive:
            self.net.model.memory_class = lambda form: NaiveRecurrentMemory
        if contender.without_memory:
            self.net.model.memory_class = lambda form: NoMemory
        self.linear_maps_only = contender.linear_maps_only
        self.optimizer = torch.optim.AdamW(self.net.parameters(), lr=1e-3)
        self.data = self.task.generate(cfg.data_seed)["train"]
        self.data.num_hops = num_layers
        size = min(cfg.train.batch_size, len(self.data))
        self.batch = self.data.batch(torch.arange(size)).to(self.device)
        self.params = sum(p.numel() for p in self.net.parameters())
        self.form = getattr(self.net.model, "form", None)
        self.recompute = getattr(self.net.model, "recompute", False)
        if self.form == "auto":  # the form `auto` picks for this batch
            self.form = self.net.model.choose_form(
                layer_neighbourhoods(self.batch, num_layers, self.net.model.khop), len(self.batch.x)
            )

    def step(self) -> None:
        if self.linear_maps_only:
            loss = linear_maps_step(self.net.model, self.net.encoder(self.batch)).square().mean()
        else:
            loss = self.task.loss(self.net(self.batch), self.batch)
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)

    def timed_step(self) -> float:
        self.synchronize()
        start = time.perf_counter()
        self.step()
        self.synchronize()
        return time.perf_counter() - start

    def synchronize(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def peak_memory(self) -> int:
        """Bytes: the high-water mark of allocations minus releases during one step (on a GPU,
        torch.cuda's peak allocation during the step above what was allocated before it)."""
        if self.device.type == "cuda":
            self.synchronize()
            before = torch.cuda.memory_allocated(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.step()
            self.synchronize()
            return torch.cuda.max_memory_allocated(self.device) - before
        quiet_profiler()
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            self.step()
        events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
        live = peak = 0
        for event in sorted(events, key=lambda e: e.start_ns()):
            live += event.nbytes()
            peak = max(peak, live)
        return peak


def quiet_profiler() -> None:
    """Keep torch's profiler (Kineto) from writing its ``USDT: ... profiler_start`` and
    ``profiler_stop`` lines to stderr for every profiled step: its log level, read when the
    profiler first starts in the process, above all of its messages (6; USDT is 5, ERROR 4;
    the profiler's failures still raise), unless ``KINETO_LOG_LEVEL`` is set already."""
    os.environ.setdefault("KINETO_LOG_LEVEL", "6")


def quartiles(values: list[float]) -> tuple[float, float, float]:
    if len(values) < 2:
        return values[0], values[0], values[0]
    q1, q2, q3 = statistics.quantiles(values, n=4)
    return q1, q2, q3


def run_case(
    name: str, repeats: int, warmup: int, device: str = "cpu", recompute: bool = False
) -> dict:
    title, task_overrides, contenders = CASES[name]
    if recompute:
        contenders = [with_recompute(c) for c in contenders]
    trainers = {c.name: Trainer(task_overrides, c, device) for c in contenders}
    for trainer in trainers.values():
        for _ in range(warmup):
            trainer.step()
    times = {key: [] for key in trainers}
    order = list(trainers)
    for rep in range(repeats):
        for key in order[rep % len(order) :] + order[: rep % len(order)]:
            times[key].append(trainers[key].timed_step())
    rows = {}
    for key, trainer in trainers.items():
        q1, median, q3 = quartiles(times[key])
        rows[key] = {
            "median_ms": 1e3 * median,
            "iqr_ms": [1e3 * q1, 1e3 * q3],
            "peak_mb": trainer.peak_memory() / 2**20,
            "params": trainer.params,
            "nodes": trainer.batch.num_nodes,
            "form": trainer.form,
            "recompute": trainer.recompute and not trainer.linear_maps_only,
        }
    return {"title": title, "repeats": repeats, "rows": rows}


def time_nar_data(repeats: int = 3) -> dict:
    """Seconds to build NAR (N = 96, 10,000 graphs) and its 2 hop sets tiled for batch 64, and
    then gLSTM's neighbourhood structures for such a batch (once per batch size)."""

    def once() -> tuple[float, float]:
        start = time.perf_counter()
        task = NAR(num_keys=96, num_train=8000, num_val=1000, num_test=1000)
        data = task.generate(0)
        for graphs in data.values():
            graphs.num_hops = 2
            batch = graphs.batch(torch.arange(64))  # builds the tiled edge and hop sets
        middle = time.perf_counter()
        for adj in layer_neighbourhoods(batch, 2, khop=True):
            adj.csr(1, adj.ones(1, torch.float32), transpose=True)  # CSR and its transpose
        return middle - start, time.perf_counter() - middle

    runs = [once() for _ in range(repeats)]
    return {
        "median_s": statistics.median(r[0] for r in runs),
        "runs_s": [r[0] for r in runs],
        "glstm_neighbourhoods_s": statistics.median(r[1] for r in runs),
    }


def report(results: dict) -> str:
    lines = []
    for case in results["cases"].values():
        rows = case["rows"]
        gcn = rows["GCN"]["median_ms"]
        lines += [
            f"### {case['title']}",
            "",
            "| model | step (ms, median) | IQR (ms) | peak memory (MB) | x GCN time | params |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for key, row in rows.items():
            lo, hi = row["iqr_ms"]
            notes = [row["form"]] if key == "gLSTM" and row.get("form") else []
            notes += ["recompute"] if row.get("recompute") else []
            name = f"{key} ({', '.join(notes)})" if notes else key
            lines.append(
                f"| {name} | {row['median_ms']:.1f} | {lo:.1f}-{hi:.1f} | {row['peak_mb']:.1f} | "
                f"{row['median_ms'] / gcn:.2f} | {row['params']:,} |"
            )
        if "gLSTM naive" not in rows:
            lines += ["", f"{rows['GCN']['nodes']:,} nodes per batch ({case['repeats']} reps)"]
            floor = rows.get("gLSTM linear maps only")
            if floor:
                ratios = [
                    f"{key} {rows[key]['median_ms'] / floor['median_ms']:.2f}x"
                    for key in ("gLSTM", "gLSTM without its memory")
                    if key in rows
                ]
                lines.append(f"step as a multiple of the linear-maps floor: {', '.join(ratios)}")
            lines.append("")
            continue
        par, naive, rec = rows["gLSTM parallel"], rows["gLSTM naive"], rows["gLSTM recurrent"]
        lines += [
            "",
            f"parallel vs naive: {naive['median_ms'] / par['median_ms']:.1f}x faster, "
            f"{par['peak_mb'] / naive['peak_mb']:.2f}x the peak memory; "
            f"recurrent vs naive: {naive['median_ms'] / rec['median_ms']:.1f}x faster, "
            f"{rec['peak_mb'] / naive['peak_mb']:.2f}x the memory; "
            f"parallel vs GCN: {par['median_ms'] / gcn:.2f}x the step time "
            f"({case['repeats']} reps)",
            "",
        ]
    data = results.get("nar_data")
    if data:
        runs = ", ".join(f"{s:.2f}" for s in data["runs_s"])
        lines.append(
            f"NAR data, N = 96, 10,000 graphs + k-hop sets: {data['median_s']:.2f} s "
            f"(runs: {runs}); then gLSTM's CSR neighbourhoods for a batch of 64: "
            f"{data['glstm_neighbourhoods_s']:.3f} s"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--cases",
        nargs="+",
        default=list(FORMS),
        choices=list(CASES),
        help=f"default: {' '.join(FORMS)}; deep graphs: {' '.join(set(CASES) - set(FORMS))}",
    )
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N")
    parser.add_argument(
        "--repeats",
        type=int,
        help=f"timed steps per model (default per case: {DEFAULT_REPEATS})",
    )
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps per model first")
    parser.add_argument("--no-data", action="store_true", help="skip the data-generation timing")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch intra-op threads (default 1: steady timings on a shared machine; 0: torch's)",
    )
    parser.add_argument(
        "--recompute",
        action="store_true",
        help="run every gLSTM row with recompute=true (layers recomputed in the backward pass)",
    )
    parser.add_argument("--out", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device = args.device
    if device.startswith("cuda") and not torch.cuda.is_available():
        parser.error(f"--device {device}: torch sees no CUDA device")
    results = {
        "machine": {
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "device": torch.cuda.get_device_name(device) if device.startswith("cuda") else "cpu",
        },
        "recompute": args.recompute,
        "cases": {
            name: run_case(
                name, args.repeats or DEFAULT_REPEATS[name], args.warmup, device, args.recompute
            )
            for name in args.cases
        },
    }
    if not args.no_data:
        results["nar_data"] = time_nar_data()
    print(report(results))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
