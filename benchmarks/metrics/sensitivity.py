r"""Sensitivity: how strongly the readout output reacts to each node's input (SPEC.md section 5).

For a graph with readout output y = f(x) in R^O (the logits for classification, the prediction for
regression) and encoded node inputs x_u in R^d, the Jacobian block of node u is

    J_u = d y / d x_u  in R^{O x d},       |J_u|_1 = sum_{o < O} sum_{i < d} |J_u[o, i]|

(the entrywise L1 norm: summed over output dimensions and input dimensions). Restricting the input
sum to a subset of the input dimensions (NAR's key half and value half) gives the part norms.

**Many graphs at once.** The graphs of a batch are independent: the output of graph b depends only
on the nodes of graph b. So for one output dimension o, the gradient of sum_b y_b[o] with respect to
the whole node matrix x [N, d] holds, in row u, exactly J_u[o, :] of u's own graph. One backward
pass per output dimension (O in all) therefore yields every graph's Jacobian. This needs the network
in eval mode: BatchNorm in train mode normalises with batch statistics and couples the graphs.
Graphs are processed in chunks of at most MAX_NODES nodes; a chunk smaller than COPY_NODES / 2
nodes is stacked several times so that one pass serves several output dimensions (:class:`_Copies`).

**Second-order mixing** (NAR): for the query node q of a graph and a key node u,

    M_u = sum_o sum_{i in key half} sum_{j in value half} |d^2 y[o] / (d x_q[i] d x_u[j])|

how much the readout combines the query's key with u's value: recall needs this interaction, which a
first-order sensitivity cannot show. Computed with one double-backward pass per (o, i) pair, again
for all graphs of the batch at once.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pandas as pd
import torch
from torch import Tensor

from benchmarks.tasks import GraphSet, Task
from benchmarks.tasks.nar import KEY, NARR, QUERY, KeyValueEncoder

# A part of the input: maps a gradient w.r.t. the encoded input [N, d] to the gradient w.r.t. the
# part's coordinates [N, k] (a column slice, or a chain rule through a linear encoder).
Part = Callable[[Tensor], Tensor]

# Graphs per chunk: at most this many nodes. Bounds memory; on a CPU, chunks of 2^12 to 2^13 nodes
# ran fastest (GCN and gLSTM on NAR-32, one thread: larger chunks leave the cache).
MAX_NODES = 2**12
COPY_NODES = MAX_NODES  # smaller chunks are copied up to this many nodes per pass (_Copies)
MIXING_COPY_NODES = 2**16  # the same for mixing: its double-backward passes outweigh a forward

__all__ = [
    "Sensitivity",
    "input_parts",
    "jacobian_norms",
    "measure_sensitivity",
    "mixing_norms",
    "readout_jacobian",
]


class _Copies:
    """`copies` stacked copies of the graphs at `index`, as one batch of independent graphs.

    Copy c of graph b is graph c * B + b of the batch; its nodes are rows (c * B + b) * n ... of
    x [copies * B * n, d], a leaf that requires grad. Copy c carries one derivative (one output
    dimension, or one (output, query dimension) pair), so one backward pass over the copies gives
    `copies` Jacobian rows of every graph. This only pays when B n is small (each pass costs
    about the same fixed overhead as a full one); the forward pass is repeated once per copy.
    """

    def __init__(self, net, graphs: GraphSet, index: Tensor, copies: int, device):
        self.copies, self.graphs = copies, len(index)
        self.batch = graphs.batch(index.repeat(copies)).to(device)
        with torch.no_grad():
            x = net.encoder(self.batch)  # [copies * B * n, d]
        self.x = x.detach().requires_grad_(True)
        self.y = net(self.batch, self.x)  # [copies * B, O]

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
    create_graph: bool = False,
) -> Iterator[tuple[_Copies, Tensor, Tensor]]:
    """Backward passes for the derivatives p = 0..P-1, derivative p seeded at output outputs[p].

    Yields (copies, chunk of derivative ids [k], grad [k * B * n, d]) where row block c of grad
    is d(sum_b y_b[outputs[chunk[c]]]) / dx. Large chunks of graphs (B n > copy_nodes / 2) share
    one forward pass and run one backward pass per derivative; smaller ones pack several
    derivatives into one pass as copies (up to `copy_nodes` nodes).
    """
    per_pass = max(1, copy_nodes // (len(index) * graphs.topology.num_nodes))
    chunks = torch.arange(len(outputs)).split(per_pass)
    shared = _Copies(net, graphs, index, 1, device) if per_pass == 1 else None
    for chunk in chunks:
        c = shared or _Copies(net, graphs, index, len(chunk), device)
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
        return net(graphs.batch(index[:1]).to(device)).shape[1]


def readout_jacobian(
    net, graphs: GraphSet, index: Tensor, device="cpu", copy_nodes: int = COPY_NODES
) -> Tensor:
    """Every graph's full Jacobian, from O backward passes (or fewer) over the graphs at once.

    Args:
        net: a :class:`~benchmarks.train.Network` in eval mode.
        graphs: the graph set; index: [B] the graphs to use (n nodes each, N = B n).
        device: where to compute.
        copy_nodes: see :func:`jacobian_norms`.

    Returns:
        J [O, N, d] with J[o, b * n + u, i] = d y_b[o] / d x_{b, u}[i].
    """
    outputs = torch.arange(_num_outputs(net, graphs, index, device))
    passes = _passes(net, graphs, index, outputs, copy_nodes, device)
    return torch.cat([c.per_copy(grad) for c, _, grad in passes])


def jacobian_norms(
    net,
    graphs: GraphSet,
    index: Tensor,
    parts: dict[str, Part] | None = None,
    device="cpu",
    copy_nodes: int = COPY_NODES,
) -> tuple[dict[str, Tensor], Tensor]:
    """Per-node L1 norms |J_u|_1 of the readout Jacobian, in full and per input part.

    Cost: one forward and O backward passes over the B graphs at once; when B n is small, several
    output dimensions share a pass as copies of the graphs (up to `copy_nodes` nodes per pass).

    Args:
        net: a Network in eval mode.
        graphs: the graph set; index: [B] the graphs (n nodes each, N = B n).
        parts: name -> :data:`Part` (e.g. from :func:`input_parts`).
        device: where to compute.
        copy_nodes: nodes per pass when copying.

    Returns:
        ({"sens": [N], "sens_<part>": [N], ...}, y [B, O] the readout output).
    """
    parts = parts or {}
    outputs = torch.arange(_num_outputs(net, graphs, index, device))
    norms, y = {}, None
    for c, _, grad in _passes(net, graphs, index, outputs, copy_nodes, device):
        if y is None:  # copy 0 of the first pass holds every graph once
            y = c.y[: len(index)].detach()
            size = len(index) * graphs.topology.num_nodes
            names = ["sens", *(f"sens_{p}" for p in parts)]
            norms = {name: grad.new_zeros(size) for name in names}
        norms["sens"] += c.per_copy(grad.abs().sum(-1)).sum(0)
        for name, part in parts.items():
            norms[f"sens_{name}"] += c.per_copy(part(grad).abs().sum(-1)).sum(0)
    return norms, y


def mixing_norms(
    net, graphs: GraphSet, index: Tensor, device="cpu", copy_nodes: int = MIXING_COPY_NODES
) -> Tensor:
    """Per-node mixed second-derivative norm M_u (module docstring) on NAR-like encodings.

    One double-backward pass per (output o, query key dimension i) pair, O d/2 in all, packed as
    copies like :func:`jacobian_norms`. Needs a model whose backward pass is differentiable.

    Args:
        net: a Network in eval mode whose encoded input is [key half | value half].
        graphs: graphs with one node of role QUERY each; index: [B] the graphs (N = B n).
        device: where to compute.
        copy_nodes: nodes per pass when copying.

    Returns:
        M [N]: the sum over outputs o, query key dims i and value dims j of the node of
        |d^2 y[o] / (d x_q[i] d x_u[j])|, q the query node of u's graph.
    """
    half = net.encoder.key.embedding_dim
    mixing = torch.zeros(len(index) * graphs.topology.num_nodes, device=device)
    # derivative p is the pair (output p // half, query key dim p % half)
    outputs = torch.arange(_num_outputs(net, graphs, index, device)).repeat_interleave(half)
    passes = _passes(net, graphs, index, outputs, copy_nodes, device, create_graph=True)
    for c, chunk, grad in passes:
        if not grad.requires_grad:  # the gradient does not depend on x: no mixing
            continue
        query = (c.batch.roles == QUERY).nonzero().squeeze(1)  # [copies * B], copy-major
        dims = (chunk % half).to(query.device).repeat_interleave(len(index))
        (second,) = torch.autograd.grad(
            grad[query, dims].sum(), c.x, retain_graph=True, allow_unused=True
        )
        if second is not None:
            mixing += c.per_copy(second[:, half:].abs().sum(-1)).sum(0)
    return mixing


def input_parts(task: Task, net) -> dict[str, Part]:
    """The key and value parts of a task's input, or {} when it has none.

    - NAR (:class:`KeyValueEncoder`): the first and second half of the encoded input.
    - NARR: its encoded input has no halves; the parts are the raw key columns (one-hot key,
      [0, N)) and value columns ([N, N + D)) of the features, reached by the chain rule through the
      linear encoder: d y / d f_u = J_u W, W [d, F] the encoder's weight.
    """
    if isinstance(net.encoder, KeyValueEncoder):
        half = net.encoder.key.embedding_dim
        return {"key": lambda g: g[:, :half], "value": lambda g: g[:, half:]}
    if isinstance(task, NARR):
        weight = net.encoder.linear.weight  # [d, 2N + D]
        n, v = task.num_keys, task.value_dim
        key_w, value_w = weight[:, :n].detach(), weight[:, n : n + v].detach()
        return {"key": lambda g: g @ key_w, "value": lambda g: g @ value_w}
    return {}


@dataclass
class Sensitivity:
    """The measurements of one run.

    Attributes:
        summary: flat keys for result.json (see :func:`measure_sensitivity`).
        nodes: one row per measured node: graph, node, role, hop, selected, sens, sens_<part>,
            mixing.
        hops: one row per hop distance: hop, sens (mean), std, count.
    """

    summary: dict = field(default_factory=dict)
    nodes: pd.DataFrame = field(default_factory=pd.DataFrame)
    hops: pd.DataFrame = field(default_factory=pd.DataFrame)


def _ratio(a: float, b: float) -> float:
    if b > 0:
        return a / b
    return float("inf") if a > 0 else float("nan")


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

    Summary keys (all means over the measured nodes; |J|_1 as in the module docstring):
        - ``sens/num_graphs``; ``sens/score``: the task metric of `net` on those graphs;
        - ``sens/hop_<h>`` mean |J_u|_1 over nodes at hop distance h from the readout node, and
          ``sens/count_hop_<h>`` their number (``hop_unreachable`` for nodes that cannot reach it);
        - tasks with a queried key node (NAR, NARR): ``sens/selected`` (the queried key node),
          ``sens/background`` (the other key nodes), ``sens/ratio`` = selected / background, and the
          same restricted to the key and value parts: ``sens/selected_key``,
          ``sens/background_value``, ``sens/ratio_value``, ...;
        - with `mixing` (NAR): ``sens/mixing_selected``, ``sens/mixing_background``,
          ``sens/mixing_ratio``.

    Args:
        net: a :class:`~benchmarks.train.Network`; left in eval mode.
        task: the task (for the input parts).
        graphs: the split to measure (the runner passes the test split).
        num_graphs: how many graphs, from the first.
        mixing: also compute the second-order mixing (NAR only).
        device: where to compute.
        max_nodes: graphs are measured in chunks of at most this many nodes (bounds memory).
        copy_nodes: chunks smaller than this are copied to share passes (speed only).
    """
    net.eval()
    count = min(num_graphs, len(graphs))
    parts = input_parts(task, net)
    has_selected = "selected_index" in graphs.node_fields
    mixing = mixing and has_selected and isinstance(net.encoder, KeyValueEncoder)
    n = graphs.topology.num_nodes
    frames, score = [], 0.0
    for index in _graph_chunks(graphs, torch.arange(count), max_nodes):
        norms, y = jacobian_norms(net, graphs, index, parts, device, copy_nodes)
        score += task.score(y.cpu(), graphs.y[index]).item()
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
                frame["mixing"] = mixing_norms(net, graphs, index, device).cpu()
            except RuntimeError as err:  # a model whose backward pass is not differentiable
                first = str(err).splitlines()[0]
                warnings.warn(f"sensitivity.mixing skipped: {first}", RuntimeWarning, stacklevel=2)
                frame["mixing"] = torch.full((len(index) * n,), float("nan"))
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
    if has_selected:
        keys = nodes[nodes.role == KEY]
        chosen, other = keys[keys.selected], keys[~keys.selected]
        columns = ["sens", *(f"sens_{p}" for p in parts)] + (["mixing"] if mixing else [])
        for column in columns:
            suffix = column.removeprefix("sens")  # "", "_key", "_value"; mixing -> "mixing"
            if column == "mixing":
                sel, bg, rat = "mixing_selected", "mixing_background", "mixing_ratio"
            else:
                sel, bg, rat = f"selected{suffix}", f"background{suffix}", f"ratio{suffix}"
            a = float(chosen[column].mean())
            b = float(other[column].mean()) if len(other) else float("nan")
            summary |= {f"sens/{sel}": a, f"sens/{bg}": b, f"sens/{rat}": _ratio(a, b)}
    return Sensitivity(summary, nodes, hops)
