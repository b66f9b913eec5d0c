"""GraphList batches equal PyG's collation, and their hop sets equal networkx's distances."""

import networkx as nx
import pytest
import torch
from torch_geometric.data import Batch, Data, InMemoryDataset
from torch_geometric.utils import to_undirected

from benchmarks.tasks.graph_list import GraphList, ranges


def random_graphs(count: int, seed: int = 0) -> list[Data]:
    generator = torch.Generator().manual_seed(seed)
    graphs = []
    for _ in range(count):
        n = int(torch.randint(3, 9, (1,), generator=generator))
        edges = torch.randint(0, n, (2, 2 * n), generator=generator)
        edge_index = to_undirected(edges[:, edges[0] != edges[1]], num_nodes=n)
        graphs.append(
            Data(
                x=torch.randn(n, 3, generator=generator),
                edge_index=edge_index,
                edge_attr=torch.randn(edge_index.shape[1], 2, generator=generator),
                y=torch.randn(1, 4, generator=generator),
                num_nodes=n,
            )
        )
    return graphs


class ListDataset(InMemoryDataset):
    def __init__(self, graphs: list[Data]):
        super().__init__()
        self.data, self.slices = self.collate(graphs)


def test_ranges_concatenates_integer_ranges():
    assert ranges(torch.tensor([5, 0, 2]), torch.tensor([2, 0, 3])).tolist() == [5, 6, 2, 3, 4]


def test_batch_equals_pyg_collation_of_the_same_graphs():
    graphs = random_graphs(12)
    listed = GraphList.from_dataset(ListDataset(graphs))
    index = torch.tensor([7, 2, 2, 11, 0])
    ours = listed.batch(index)
    pyg = Batch.from_data_list([graphs[i] for i in index])
    for key in ("x", "edge_index", "edge_attr", "y", "batch", "ptr"):
        assert torch.equal(ours[key], pyg[key]), key
    assert ours.num_graphs == len(index)


@pytest.mark.parametrize("num_hops", [1, 3])
def test_hop_sets_are_the_pairs_at_exact_networkx_distance(num_hops):
    graphs = random_graphs(6, seed=1)
    listed = GraphList.from_dataset(ListDataset(graphs))
    listed.num_hops = num_hops
    index = torch.tensor([4, 1, 3])
    batch = listed.batch(index)
    expected = {hop: set() for hop in range(1, num_hops + 1)}
    offset = 0
    for g in index.tolist():
        graph = nx.Graph()
        graph.add_nodes_from(range(graphs[g].num_nodes))
        graph.add_edges_from(graphs[g].edge_index.t().tolist())
        for u, lengths in nx.all_pairs_shortest_path_length(graph):
            for v, hop in lengths.items():
                if 1 <= hop <= num_hops:
                    expected[hop].add((u + offset, v + offset))
        offset += graphs[g].num_nodes
    assert len(batch.hop_index) == num_hops
    for hop, pairs in enumerate(batch.hop_index, start=1):
        assert set(map(tuple, pairs.t().tolist())) == expected[hop]
    assert torch.equal(batch.hop_index[0].unique(dim=1), batch.edge_index.unique(dim=1))


def test_node_level_targets_follow_their_nodes():
    graphs = random_graphs(5, seed=2)
    for graph in graphs:
        graph.y = torch.randn(graph.num_nodes, 1)
    listed = GraphList.from_dataset(ListDataset(graphs), node_level=True)
    batch = listed.batch(torch.tensor([3, 0]))
    assert torch.equal(batch.y, torch.cat([graphs[3].y, graphs[0].y]))
