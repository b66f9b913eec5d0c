"""Depth vs width: sensitivity of randomly initialised GCN stacks (the gLSTM paper's Figure 2).

    python -m benchmarks.studies.depth_width            # M = 2..128, 100 initialisations
    python -m benchmarks.studies.depth_width --quick    # M = 2..16, 5 initialisations (seconds)

Two ways for a root to see M leaves:

- **depth**: a complete binary tree with M leaves, edges from children to parents (towards the
  root) plus self-loops, and log2 M GCN layers, so the root just reaches the leaves;
- **width**: a star, every leaf connected straight to the root (plus self-loops), one layer.

For each M and activation (identity, tanh, relu, gelu), `--inits` GCN stacks of width 4 are
initialised at random (:class:`baselines.GCN`, PyG's ``GCNConv``: Glorot weights, zero bias; no
residual, no norm) and fed standard normal node features x [n, 4]. For initialisation r the
sensitivity to a leaf u is the L1 norm of the root's output Jacobian,

    S_r(u) = sum_{o < 4} sum_{i < 4} |d h_root^(L)[o] / d x_u[i]|,

averaged over the M leaves: S_r = mean_u S_r(u). The table reports the mean and the standard
deviation (ddof = 1) of S_r over the initialisations. All initialisations of one setting run at
once: their parameters are stacked and ``torch.func.vmap`` maps ``jacrev`` over them.

Writes ``<results-dir>/out/tables/depth_width.csv`` and
``<results-dir>/out/figures/depth_width.png`` (``depth_width_quick.*`` with ``--quick``), an
ignored folder. (Run as a module, ``benchmarks`` is imported before torch, which sets
OMP_WAIT_POLICY.)
"""

from __future__ import annotations

import argparse
import copy
import math
import time
from pathlib import Path
from types import SimpleNamespace

import matplotlib
import pandas as pd
import torch
from torch.func import functional_call, jacrev, stack_module_state, vmap

from baselines import GCN
from benchmarks.analysis.outputs import output_dirs
from benchmarks.tasks.tree_neighbors_match import binary_tree

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

ACTIVATIONS = ("identity", "tanh", "relu", "gelu")
WIDTH = 4


def tree(leaves: int) -> tuple[SimpleNamespace, torch.Tensor, int]:
    """(graph, leaf ids [M], layers): binary tree with M = 2^r leaves, edges towards the root."""
    depth = int(math.log2(leaves))
    topology, leaf_ids = binary_tree(depth, directed=True)
    graph = SimpleNamespace(edge_index=topology.edge_index, num_nodes=topology.num_nodes)
    return graph, leaf_ids, depth


def star(leaves: int) -> tuple[SimpleNamespace, torch.Tensor, int]:
    """(graph, leaf ids [M], layers): root 0, leaves 1..M pointing at it, self-loops; 1 layer."""
    leaf_ids = torch.arange(1, leaves + 1)
    edges = torch.stack([leaf_ids, torch.zeros_like(leaf_ids)])
    loops = torch.arange(leaves + 1).repeat(2, 1)
    graph = SimpleNamespace(edge_index=torch.cat([edges, loops], 1), num_nodes=leaves + 1)
    return graph, leaf_ids, 1


def leaf_sensitivity(graph, leaf_ids, layers: int, act: str, inits: int, seed: int) -> torch.Tensor:
    """S_r for r = 1..inits (module docstring): [inits]."""
    torch.manual_seed(seed)
    models = [GCN(WIDTH, layers, act=act) for _ in range(inits)]
    params, buffers = stack_module_state(models)
    skeleton = copy.deepcopy(models[0]).to("meta")

    def root(p, b, x):  # one initialisation: x [n, 4] -> root output [4]
        return functional_call(skeleton, (p, b), (x, graph))[0]

    x = torch.randn(inits, graph.num_nodes, WIDTH)
    jac = vmap(jacrev(root, argnums=2))(params, buffers, x)  # [inits, 4, n, 4]
    return jac[:, :, leaf_ids].abs().sum((1, 3)).mean(1)


def study(sizes: list[int], activations: list[str], inits: int, seed: int) -> pd.DataFrame:
    """One row per (graph, M, activation): layers, mean and std of S_r, inits."""
    rows = []
    for leaves in sizes:
        for act in activations:
            for kind, build in (("tree", tree), ("star", star)):
                graph, leaf_ids, layers = build(leaves)
                # the same seed for tree and star: at M = 2 the two graphs coincide
                s = leaf_sensitivity(graph, leaf_ids, layers, act, inits, seed * 7919 + leaves)
                rows.append(
                    {
                        "graph": kind,
                        "leaves": leaves,
                        "layers": layers,
                        "activation": act,
                        "mean": s.mean().item(),
                        "std": s.std().item() if inits > 1 else math.nan,
                        "inits": inits,
                    }
                )
    return pd.DataFrame(rows)


def plot(table: pd.DataFrame, path: Path) -> None:
    """One panel per activation: mean sensitivity per leaf against M, +- 1 std (the lower edge
    clipped at mean / 10 where the std exceeds the mean), log-log."""
    activations = list(dict.fromkeys(table.activation))
    fig, axes = plt.subplots(
        1, len(activations), figsize=(3.2 * len(activations), 3.2), sharey=True, squeeze=False
    )
    styles = {
        "tree": ("depth: binary tree, log2 M layers", "C3"),
        "star": ("width: star, 1 layer", "C0"),
    }
    for ax, act in zip(axes[0], activations, strict=True):
        for kind, (label, color) in styles.items():
            rows = table[(table.activation == act) & (table.graph == kind)].sort_values("leaves")
            ax.plot(rows.leaves, rows["mean"], "o-", color=color, label=label, ms=3)
            std = rows["std"].fillna(0)
            low = (rows["mean"] - std).clip(lower=rows["mean"] / 10)  # log axis: clip at mean/10
            ax.fill_between(rows.leaves, low, rows["mean"] + std, color=color, alpha=0.2)
        ax.set(xscale="log", yscale="log", title=act, xlabel="leaves M")
        ax.set_xticks(sorted(set(table.leaves)), [str(m) for m in sorted(set(table.leaves))])
        ax.minorticks_off()
    axes[0][0].set_ylabel("root sensitivity to a leaf, |J|_1")
    axes[0][0].legend(fontsize=7, loc="lower left")
    fig.suptitle(
        f"Random GCN (width {WIDTH}), mean +- std over {table.inits.iloc[0]} initialisations",
        fontsize=9,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=150)
    plt.close(fig)


def main(argv: list[str] | None = None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--max-leaves", type=int, default=128, help="M = 2, 4, ..., max (powers of 2)"
    )
    parser.add_argument("--inits", type=int, default=100)
    parser.add_argument("--activations", nargs="+", default=list(ACTIVATIONS), choices=ACTIVATIONS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--results-dir",
        default="results",
        help="writes under <results-dir>/out/ (default: results)",
    )
    parser.add_argument("--quick", action="store_true", help="M <= 16, 5 initialisations")
    args = parser.parse_args(argv)
    if args.quick:
        args.max_leaves, args.inits = min(args.max_leaves, 16), min(args.inits, 5)
    if args.max_leaves < 2 or args.inits < 1:
        parser.error("--max-leaves must be >= 2 and --inits >= 1")
    sizes = [2**k for k in range(1, int(math.log2(args.max_leaves)) + 1)]

    t0 = time.perf_counter()
    table = study(sizes, args.activations, args.inits, args.seed)
    name = "depth_width_quick" if args.quick else "depth_width"
    tables, figures = output_dirs(args.results_dir)
    csv, png = tables / f"{name}.csv", figures / f"{name}.png"
    csv.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(csv, index=False)
    plot(table, png)
    wide = table.pivot_table(index="leaves", columns=["activation", "graph"], values="mean")
    print(wide.to_string(float_format=lambda v: f"{v:.3g}"))
    print(
        f"{len(table)} settings x {args.inits} initialisations in {time.perf_counter() - t0:.1f}s"
    )
    print(f"wrote {csv} and {png}")
    return table


if __name__ == "__main__":
    main()
