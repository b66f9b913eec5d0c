r"""Influence by distance and the range of a trained model (Bamberger et al., ICML 2025).

For a graph g with readout node u, let |J_v|_1 be the entrywise L1 norm of the Jacobian of u's
readout output with respect to node v's input (:mod:`benchmarks.metrics.sensitivity`) and
d(v) = d(v, u) the hop distance from v to u. The **total influence at hop h** is

    I_g(h) = sum_{v : d(v) = h} |J_v|_1,

and the **range** of the model on g is the influence-weighted mean distance

    rho_g = sum_h h I_g(h) / sum_h I_g(h) = sum_v d(v) |J_v|_1 / sum_v |J_v|_1,

over the nodes that reach u (d(v) >= 0); rho_g is NaN when no node influences the output. The run
records the mean of rho_g over the measured graphs (and its standard deviation, ddof = 1).

These are the quantities of PyG's :func:`torch_geometric.utils.total_influence`, which samples
seed nodes of one graph instead of taking one readout node per graph: its influence row for seed
u with ``normalize=False`` is I_g(0..k) and its breadth R at that seed is rho_g, when its
``max_hops`` k covers every node that reaches u (tests/test_influence.py checks both).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["hop_influence", "influence_range", "range_summary"]


def hop_influence(nodes: pd.DataFrame, column: str = "sens") -> pd.DataFrame:
    """The total influence I_g(h) per graph and hop, from per-node norms.

    Args:
        nodes: one row per measured node with columns ``graph``, ``hop`` (-1 for nodes that
            cannot reach the readout node: left out) and `column` (|J_v|_1).
        column: the per-node norm.

    Returns:
        [G, K + 1] frame, index ``graph``, columns the hops 0..K (0 where a graph has no node at
        that hop).
    """
    reach = nodes[nodes.hop >= 0]
    table = reach.pivot_table(index="graph", columns="hop", values=column, aggfunc="sum")
    return table.reindex(columns=range(int(reach.hop.max()) + 1), fill_value=0.0).fillna(0.0)


def influence_range(influence: pd.DataFrame) -> pd.Series:
    """rho_g = sum_h h I_g(h) / sum_h I_g(h) per graph (NaN where the total is 0).

    Args:
        influence: [G, K + 1] from :func:`hop_influence` (columns are the hops).

    Returns:
        [G] series named ``range``, indexed like `influence`.
    """
    hops = influence.columns.to_numpy(dtype=float)
    total = influence.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = (influence.to_numpy() @ hops) / total.to_numpy()
    return pd.Series(rho, index=influence.index, name="range")


def range_summary(nodes: pd.DataFrame, column: str = "sens") -> tuple[dict, pd.DataFrame]:
    """The range of a measurement: summary keys and the per-graph table.

    Args:
        nodes: per-node norms as for :func:`hop_influence`.
        column: the per-node norm.

    Returns:
        ({"sens/range": mean_g rho_g, "sens/range_std": std_g rho_g}, per-graph frame with
        columns ``graph``, ``range``, ``influence`` (sum_h I_g(h)) and ``influence_hop_<h>``).
        The mean and std are over the graphs where rho_g is defined.
    """
    influence = hop_influence(nodes, column)
    rho = influence_range(influence)
    graphs = pd.concat(
        [rho, influence.sum(axis=1).rename("influence"), influence.add_prefix("influence_hop_")],
        axis=1,
    )
    summary = {"sens/range": float(rho.mean()), "sens/range_std": float(rho.std())}
    return summary, graphs.reset_index()
