"""Time of the rewiring transforms (issue 10's target: FoSR on 10,000 nodes in under 5 s).

    python -m benchmarks.speed.rewiring
    python -m benchmarks.speed.rewiring --nodes 10000 --fosr-edges 1000 --sdrf-nodes 500

Prints the median of ``--repeats`` runs of FoSR adding ``--fosr-edges`` edges to a ring and to a
uniformly random tree of ``--nodes`` nodes, and of SDRF (``--sdrf-iterations`` iterations, tau 10,
C+ 1) on a random tree of ``--sdrf-nodes`` nodes (SDRF holds a dense adjacency, so it is timed on
a smaller graph). One thread by default, like the other speed benchmarks on this shared machine.
"""

from __future__ import annotations

import argparse
from functools import partial

import networkx as nx
import torch
from torch_geometric.utils import from_networkx

import benchmarks  # noqa: F401  (OMP_WAIT_POLICY before torch loads)
from baselines.rewiring import SDRF, FoSR
from benchmarks.speed.data import median_seconds


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--fosr-edges", type=int, default=1000)
    parser.add_argument("--sdrf-nodes", type=int, default=500)
    parser.add_argument("--sdrf-iterations", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    graphs = {
        "ring": nx.cycle_graph(args.nodes),
        "random tree": nx.random_labeled_tree(args.nodes, seed=0),
    }
    for name, graph in graphs.items():
        edge_index = from_networkx(graph).edge_index
        rewire = partial(FoSR(args.fosr_edges, seed=0).rewire, edge_index, args.nodes)
        seconds = median_seconds(rewire, args.repeats)
        print(f"FoSR  {name:12s} n={args.nodes:6d} +{args.fosr_edges} edges: {seconds:.3f} s")

    tree = from_networkx(nx.random_labeled_tree(args.sdrf_nodes, seed=0)).edge_index
    sdrf = SDRF(args.sdrf_iterations, tau=10.0, c_plus=1.0, seed=0)
    seconds = median_seconds(partial(sdrf.rewire, tree, args.sdrf_nodes), args.repeats)
    print(
        f"SDRF  {'random tree':12s} n={args.sdrf_nodes:6d} {args.sdrf_iterations} iterations: "
        f"{seconds:.3f} s"
    )


if __name__ == "__main__":
    main()
