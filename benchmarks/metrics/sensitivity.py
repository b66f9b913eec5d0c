r"""Sensitivity: how strongly the readout output reacts to each node's input (docs/measurements.md).

For a graph with readout output y = f(x) in R^O (the logits for classification, the prediction for
regression) and node inputs x_u in R^F, the Jacobian block of node u is

    J_u = d y / d x_u  in R^{O x F},       |J_u|_1 = sum_{o < O} sum_{i < F} |J_u[o, i]|

(the entrywise L1 norm: summed over output dimensions and input dimensions). Restricting the input
sum to a subset of the input columns (a "part") gives the part norms. The input x is the
**encoded** input (after the task's embedding) for NAR, Tree-NeighborsMatch and RingTransfer, and
the **raw features** for NARR (the public gLSTM code differentiates the whole model there, encoder
included). The parts, as the public code slices them:

- NAR: key = the key half of the embedding [0, d/2), value = the value half [d/2, d);
- NARR: key = raw columns [0, N) (the one-hot key), value = raw columns [N, F) (the value and,
  on the query node, the one-hot query).

**Many graphs at once.** The graphs of a batch are independent: the output of graph b depends only
on the nodes of graph b. So for one output dimension o, the gradient of sum_b y_b[o] with respect to
the whole node matrix x [N, F] holds, in row u, exactly J_u[o, :] of u's own graph. One backward
pass per output dimension (O in all) therefore yields every graph's Jacobian. This needs the network
in eval mode: BatchNorm in train mode normalises with batch statistics and couples the graphs.
Graphs are processed in chunks of at most MAX_NODES nodes; a chunk smaller than COPY_NODES / 2
nodes is stacked several times so that one pass serves several output dimensions (:class:`_Copies`).

**Ties.** A graph's Jacobian is thus the same alone and in any batch, up to float rounding, if the
network is batch-independent also where it is not differentiable. At an exact tie of a max
(identical node features make them) the derivative is a subgradient choice, and float rounding
must not make it: a dense matrix product may round a row differently depending on its position
and on the number of rows, which would hand a tie to a different entry alone and in a batch.
gLSTM's stabiliser max therefore splits its gradient evenly among the entries tied within rounding
(:func:`glstm.layer.neighbourhood_max`); tests/test_batch_independence.py checks every model
config, alone against second in a batch of two.

**Selected against background** (NAR, NARR): with s_g the norm of graph g's queried key node and
b_gj that of its other key node j, the ratio is the public notebook's estimator, the mean of the
per-pair ratios, ``ratio = mean_g mean_j s_g / b_gj``; the ratio of the means,
``mean_g s_g / mean_gj b_gj``, is kept as ``ratio_of_means``.

**Second-order mixing** (NAR): for the query node q of a graph and a node u, the block

    H_u[o, i, j] = d^2 y[o] / (d x_q[i] d x_u[d/2 + j]),    i, j < d/2

(query's key half against u's value half, [O, d/2, d/2]): how much the readout combines the query's
key with u's value, which recall needs and a first-order sensitivity cannot show. Per node the
public code keeps three numbers of H_u: its signed maximum ``max_{o,i,j} H_u``, its mean, and its
Frobenius norm. Computed with one double-backward pass per (o, i) pair, for all graphs of the batch
at once; every model in the suite is twice differentiable (gLSTM's sparse products included).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from benchmarks.metrics.influence import range_summary
from benchmarks.tasks import GraphSet, Task
from benchmarks.tasks.nar import KEY, NARR, QUERY, KeyValueEncoder

# Graphs per chunk: at most this many nodes. Bounds memory; on a CPU, chunks of 2^12 to 2^13 nodes
# ran fastest (GCN and gLSTM on NAR-32, one thread: larger chunks leave the cache).
MAX_NODES = 2**12
COPY_NODES = MAX_NODES  # smaller chunks are copied up to this many nodes per pass (_Copies)
MIXING_COPY_NODES = 2**16  # the same for mixing: its double-backward passes outweigh a forward
MIXING_STATS = ("max", "mean", "fro")

__all__ = [
    "MIXING_STATS",
    "Sensitivity",
    "input_parts",
    "jacobian_norms",
    "measure_sensitivity",
    "mixing_statistics",
    "pairwise_ratio",
    "raw_features",
    "readout_jacobian",
]


def raw_features(task: Task) -> bool:
    """Whether the sensitivity of `task` is taken w.r.t. the raw features (NARR) rather than the
    encoded input."""
    return isinstance(task, NARR)


def input_parts(task: Task, net) -> dict[str, slice]:
    """The key and value columns of the differentiated input, or {} when the task has none.

    - NAR (:class:`KeyValueEncoder`): the first and second half of the encoded input.
    - NARR: raw columns [0, N) and [N, F) of the features (see :func:`raw_features`).
    """
    if raw_features(task):
        return {"key": slice(0, task.num_keys), "value": slice(task.num_keys, None)}
    if isinstance(net.encoder, KeyValueEncoder):
        half = net.encoder.key.embedding_dim
        return {"key": slice(0, half), "value": slice(half, None)}
    return {}


class _Copies:
    """`copies` stacked copies of the graphs at `index`, as one batch of independent graphs.

    Copy c of graph b is graph c * B + b of the batch; its nodes are rows (c * B + b) * n ... of
    x [copies * B * n, F], a leaf that requires grad: the encoded input, or with `raw` the raw
    features (then the forward pass includes the encoder). Copy c carries one derivative (one
    output dimension, or one (output, query dimension) pair), so one backward pass over the copies
    gives `copies` Jacobian rows of every graph. This only pays when B n is small (each pass costs
    about the same fixed overhead as a full one); the forward pass is repeated once per copy.
    """

    def __init__(self, net, graphs: GraphSet, index: Tensor, copies: int, device, raw: bool):
        self.copies, self.graphs = copies, len(index)
        self.batch = graphs.batch(index.repeat(copies)).to(device)
        if raw:
            self.x = self.batch.x.detach().clone().requires_grad_(True)  # [copies * B * n, F]
            self.batch.x = self.x
            self.y = net.graph_outputs(self.batch)  # [copies * B, O]
        else:
            with torch.no_grad():
                x = net.encoder(self.batch)  # [copies * B * n, d]
            self.x = x.detach().requires_grad_(True)
            self.y = net.graph_outputs(self.batch, self.x)  # [copies * B, O]

    def seed(self, outputs: Tensor) -> Tensor:
        """Output gradients [copies * B, O]: one-hot at outputs[c] for every graph of copy c."""
        grad = torch.zeros_like(self.y)
        rows = torch.arange(len(grad), device=grad.device)
        grad[rows, outputs.to(grad.device).repeat_interleave(self.graphs)] = 1.0
        return grad

    def per_copy(self, rows: Tensor) -> Tensor:
        """[copies * B * n, ...] -> [copies, B * n, ...]."""
        return rows.view(self.copies, -1, *rows.shape[1:])


def _passes(
    net,
    graphs: GraphSet,
    index: Tensor,
    outputs: Tensor,
    copy_nodes: int,
    device,
    raw: bool = False,
    create_graph: bool = False,
) -> Iterator[tuple[_Copies, Tensor, Tensor]]:
    """Backward passes for the derivatives p = 0..P-1, derivative p seeded at output outputs[p].

    Yields (copies, chunk of derivative ids [k], grad [k * B * n, F]) where row block c of grad
    is d(sum_b y_b[outputs[chunk[c]]]) / dx. Large chunks of graphs (B n > copy_nodes / 2) share
    one forward pass and run one backward pass per derivative; smaller ones pack several
    derivatives into one pass as copies (up to `copy_nodes` nodes).
    """
    per_pass = max(1, copy_nodes // (len(index) * graphs.topology.num_nodes))
    chunks = torch.arange(len(outputs)).split(per_pass)
    shared = _Copies(net, graphs, index, 1, device, raw) if per_pass == 1 else None
    for chunk in chunks:
        c = shared or _Copies(net, graphs, index, len(chunk), device, raw)
        seed = c.seed(outputs[chunk])
        (grad,) = torch.autograd.grad(
            c.y,
            c.x,
            seed,
            retain_graph=shared is not None or create_graph,
            create_graph=create_graph,
        )
        yield c, chunk, grad


def _graph_chunks(graphs: GraphSet, index: Tensor, max_nodes: int) -> list[Tensor]:
    return list(index.split(max(1, max_nodes // graphs.topology.num_nodes)))


def _num_outputs(net, graphs: GraphSet, index: Tensor, device) -> int:
    """O, the readout width (from a forward pass on the first graph at `index`)."""
    with torch.no_grad():
        return net.graph_outputs(graphs.batch(index[:1]).to(device)).shape[1]


def readout_jacobian(
    net,
    graphs: GraphSet,
    index: Tensor,
    device="cpu",
    copy_nodes: int = COPY_NODES,
    raw: bool = False,
) -> Tensor:
    """Every graph's full Jacobian, from O backward passes (or fewer) over the graphs at once.

    Args:
        net: a :class:`~benchmarks.engine.network.Network` in eval mode.
        graphs: the graph set; index: [B] the graphs to use (n nodes each, N = B n).
        device: where to compute.
        copy_nodes: see :func:`jacobian_norms`.
        raw: differentiate w.r.t. the raw features instead of the encoded input.

    Returns:
        J [O, N, F] with J[o, b * n + u, i] = d y_b[o] / d x_{b, u}[i].
    """
    outputs = torch.arange(_num_outputs(net, graphs, index, device))
    passes = _passes(net, graphs, index, outputs, copy_nodes, device, raw)
    return torch.cat([c.per_copy(grad) for c, _, grad in passes])


def jacobian_norms(
    net,
    graphs: GraphSet,
    index: Tensor,
    parts: dict[str, slice] | None = None,
    device="cpu",
    copy_nodes: int = COPY_NODES,
    raw: bool = False,
) -> tuple[dict[str, Tensor], Tensor]:
    """Per-node L1 norms |J_u|_1 of the readout Jacobian, in full and per input part.

    Cost: one forward and O backward passes over the B graphs at once; when B n is small, several
    output dimensions share a pass as copies of the graphs (up to `copy_nodes` nodes per pass).

    Args:
        net: a Network in eval mode.
        graphs: the graph set; index: [B] the graphs (n nodes each, N = B n).
        parts: name -> input columns (e.g. from :func:`input_parts`).
        device: where to compute.
        copy_nodes: nodes per pass when copying.
        raw: differentiate w.r.t. the raw features instead of the encoded input.

    Returns:
        ({"sens": [N], "sens_<part>": [N], ...}, y [B, O] the readout output).
    """
    parts = parts or {}
    outputs = torch.arange(_num_outputs(net, graphs, index, device))
    norms, y = {}, None
    for c, _, grad in _passes(net, graphs, index, outputs, copy_nodes, device, raw):
        if y is None:  # copy 0 of the first pass holds every graph once
            y = c.y[: len(index)].detach()
            size = len(index) * graphs.topology.num_nodes
            names = ["sens", *(f"sens_{p}" for p in parts)]
            norms = {name: grad.new_zeros(size) for name in names}
        norms["sens"] += c.per_copy(grad.abs().sum(-1)).sum(0)
        for name, columns in parts.items():
            norms[f"sens_{name}"] += c.per_copy(grad[:, columns].abs().sum(-1)).sum(0)
    return norms, y


def mixing_statistics(
    net, graphs: GraphSet, index: Tensor, device="cpu", copy_nodes: int = MIXING_COPY_NODES
) -> dict[str, Tensor]:
    """Per-node signed max, mean and Frobenius norm of the mixing block H_u (module docstring).

    One double-backward pass per (output o, query key dimension i) pair, O d/2 in all, packed as
    copies like :func:`jacobian_norms`; pass (o, i) gives the rows H_u[o, i, :] of every node u.

    Args:
        net: a Network in eval mode whose encoded input is [key half | value half].
        graphs: graphs with one node of role QUERY each; index: [B] the graphs (N = B n).
        device: where to compute.
        copy_nodes: nodes per pass when copying.

    Returns:
        {"mixing_max": [N], "mixing_mean": [N], "mixing_fro": [N]}: max_{o,i,j} H_u[o, i, j],
        mean_{o,i,j} H_u[o, i, j] and sqrt(sum_{o,i,j} H_u[o, i, j]^2) for every node u, with q
        the query node of u's graph.
    """
    half = net.encoder.key.embedding_dim
    size = len(index) * graphs.topology.num_nodes
    # derivative p is the pair (output p // half, query key dim p % half)
    outputs = torch.arange(_num_outputs(net, graphs, index, device)).repeat_interleave(half)
    passes = _passes(net, graphs, index, outputs, copy_nodes, device, create_graph=True)
    top = total = squares = None
    for c, chunk, grad in passes:
        if top is None:  # running max, sum and sum of squares of H_u over (o, i, j)
            top = grad.new_full((size,), -torch.inf)
            total, squares = grad.new_zeros(size), grad.new_zeros(size)
        second = None
        if grad.requires_grad:  # otherwise the gradient does not depend on x: H = 0
            query = (c.batch.roles == QUERY).nonzero().squeeze(1)  # [copies * B], copy-major
            dims = (chunk % half).to(query.device).repeat_interleave(len(index))
            (second,) = torch.autograd.grad(
                grad[query, dims].sum(), c.x, retain_graph=True, allow_unused=True
            )
        if second is None:
            top = top.clamp(min=0.0)
            continue
        rows = c.per_copy(second[:, half:])  # [copies, B * n, d/2]: H_u[o, i, :] per copy
        top = torch.maximum(top, rows.detach().amax((0, 2)))
        total += rows.detach().sum((0, 2))
        squares += rows.detach().square().sum((0, 2))
    return {
        "mixing_max": top,
        "mixing_mean": total / (len(outputs) * half),
        "mixing_fro": squares.sqrt(),
    }


def pairwise_ratio(keys: pd.DataFrame, column: str) -> float:
    """The public notebook's selected / background estimator, mean_g mean_j s_g / b_gj.

    Args:
        keys: the key nodes, one row each, with columns ``graph``, ``selected`` (exactly one True
            per graph) and `column`.
        column: the measurement (e.g. ``sens``).

    Returns:
        For every graph g, its selected node's value s_g divided by each background node's value
        b_gj, averaged over the background nodes j of g and then over the graphs (x / 0 is inf,
        0 / 0 nan, as the notebook's division gives).
    """
    selected = keys[keys.selected].set_index("graph")[column]
    background = keys[~keys.selected]
    if background.empty:
        return float("nan")
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = selected.loc[background.graph].to_numpy() / background[column].to_numpy()
    return float(pd.Series(ratios).groupby(background.graph.to_numpy()).mean().mean())


def _ratio(a: float, b: float) -> float:
    if b > 0:
        return a / b
    return float("inf") if a > 0 else float("nan")


@dataclass
class Sensitivity:
    """The measurements of one run.

    Attributes:
        summary: flat keys for result.json (see :func:`measure_sensitivity`).
        nodes: one row per measured node: graph, node, role, hop, selected, sens, sens_<part>,
            mixing_max, mixing_mean, mixing_fro.
        hops: one row per hop distance: hop, sens (mean), std, count.
        graphs: one row per measured graph: graph, range, influence, influence_hop_<h>
            (:func:`benchmarks.metrics.influence.range_summary`).
    """

    summary: dict = field(default_factory=dict)
    nodes: pd.DataFrame = field(default_factory=pd.DataFrame)
    hops: pd.DataFrame = field(default_factory=pd.DataFrame)
    graphs: pd.DataFrame = field(default_factory=pd.DataFrame)


def measure_sensitivity(
    net,
    task: Task,
    graphs: GraphSet,
    num_graphs: int = 25,
    mixing: bool = False,
    device: torch.device | str = "cpu",
    max_nodes: int = MAX_NODES,
    copy_nodes: int = COPY_NODES,
) -> Sensitivity:
    """Sensitivity of `net` on the first `num_graphs` graphs of `graphs`, in eval mode.

    Summary keys (|J|_1 as in the module docstring; w.r.t. the raw features for NARR):
        - ``sens/num_graphs``; ``sens/score``: the task metric of `net` on those graphs;
        - ``sens/hop_<h>`` mean |J_u|_1 over nodes at hop distance h from the readout node, and
          ``sens/count_hop_<h>`` their number (``hop_unreachable`` for nodes that cannot reach it);
        - ``sens/range``, ``sens/range_std``: the mean and std over the graphs of the range
          rho_g = sum_v hop(v) |J_v|_1 / sum_v |J_v|_1 (:mod:`benchmarks.metrics.influence`);
        - tasks with a queried key node (NAR, NARR): ``sens/selected`` (mean over the queried key
          nodes), ``sens/background`` (mean over the other key nodes), ``sens/ratio`` (the
          notebook's estimator, :func:`pairwise_ratio`) and ``sens/ratio_of_means`` = selected /
          background; the same restricted to the key and value parts: ``sens/selected_key``,
          ``sens/background_value``, ``sens/ratio_value``, ``sens/ratio_of_means_key``, ...;
        - with `mixing` (NAR): ``sens/mixing_<stat>_selected`` and ``sens/mixing_<stat>_background``
          for stat in max (signed), mean, fro: the mean of the per-node statistic of H_u over the
          queried key nodes and over the other key nodes.

    Args:
        net: a :class:`~benchmarks.engine.network.Network`; left in eval mode.
        task: the task (for the input parts and which input is differentiated).
        graphs: the split to measure (the runner passes the test split).
        num_graphs: how many graphs, from the first.
        mixing: also compute the second-order mixing (NAR only).
        device: where to compute.
        max_nodes: graphs are measured in chunks of at most this many nodes (bounds memory).
        copy_nodes: chunks smaller than this are copied to share passes (speed only).
    """
    net.eval()
    count = min(num_graphs, len(graphs))
    parts, raw = input_parts(task, net), raw_features(task)
    has_selected = "selected_index" in graphs.node_fields
    mixing = mixing and has_selected and isinstance(net.encoder, KeyValueEncoder)
    n = graphs.topology.num_nodes
    frames, score = [], 0.0
    for index in _graph_chunks(graphs, torch.arange(count), max_nodes):
        norms, _ = jacobian_norms(net, graphs, index, parts, device, copy_nodes, raw)
        with torch.no_grad():
            batch = graphs.batch(index).to(device)
            score += task.scores(net(batch), batch).sum().item()
        frame = {
            "graph": index.repeat_interleave(n),
            "node": torch.arange(n).repeat(len(index)),
            "role": graphs.topology.roles.repeat(len(index)),
            "hop": graphs.topology.hops.repeat(len(index)),
        }
        if has_selected:
            local = graphs.node_fields["selected_index"][index]  # [B] node within its graph
            frame["selected"] = (torch.arange(n)[None, :] == local[:, None]).reshape(-1)
        frame |= {k: v.cpu() for k, v in norms.items()}
        if mixing:
            try:
                stats = mixing_statistics(net, graphs, index, device)
                frame |= {k: v.detach().cpu() for k, v in stats.items()}
            except RuntimeError as err:  # a user's model whose backward is not differentiable
                first = str(err).splitlines()[0]
                warnings.warn(f"sensitivity.mixing skipped: {first}", RuntimeWarning, stacklevel=2)
                nan = torch.full((len(index) * n,), float("nan"))
                frame |= {f"mixing_{stat}": nan for stat in MIXING_STATS}
        frames.append(pd.DataFrame({k: v.numpy() for k, v in frame.items()}))
    nodes = pd.concat(frames, ignore_index=True)

    reach = nodes[nodes.hop >= 0]
    hops = reach.groupby("hop")["sens"].agg(sens="mean", std="std", count="size").reset_index()
    summary = {"sens/num_graphs": count, "sens/score": score / count}
    for row in hops.itertuples():
        summary[f"sens/hop_{row.hop}"] = float(row.sens)
        summary[f"sens/count_hop_{row.hop}"] = int(row.count)
    if (nodes.hop < 0).any():
        summary["sens/hop_unreachable"] = float(nodes.sens[nodes.hop < 0].mean())
        summary["sens/count_hop_unreachable"] = int((nodes.hop < 0).sum())
    reach_summary, per_graph = range_summary(nodes)
    summary |= reach_summary
    if has_selected:
        summary |= _selected_vs_background(nodes[nodes.role == KEY], parts, mixing)
    return Sensitivity(summary, nodes, hops, per_graph)


def _selected_vs_background(keys: pd.DataFrame, parts: dict, mixing: bool) -> dict:
    """The selected / background summary keys of :func:`measure_sensitivity`."""
    chosen, other = keys[keys.selected], keys[~keys.selected]

    def means(column: str) -> tuple[float, float]:
        b = float(other[column].mean()) if len(other) else float("nan")
        return float(chosen[column].mean()), b

    out = {}
    for suffix in ["", *(f"_{p}" for p in parts)]:  # "", "_key", "_value"
        a, b = means(f"sens{suffix}")
        out |= {
            f"sens/selected{suffix}": a,
            f"sens/background{suffix}": b,
            f"sens/ratio{suffix}": pairwise_ratio(keys, f"sens{suffix}"),
            f"sens/ratio_of_means{suffix}": _ratio(a, b),
        }
    if mixing:
        for stat in MIXING_STATS:
            a, b = means(f"mixing_{stat}")
            out |= {f"sens/mixing_{stat}_selected": a, f"sens/mixing_{stat}_background": b}
    return out
