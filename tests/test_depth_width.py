"""The depth-vs-width sensitivity study (gLSTM paper, Figure 2) runs and shows its trend."""

import torch

from baselines import GCN
from benchmarks.studies.depth_width import main, star, tree


def test_quick_study_writes_table_and_figure(tmp_path):
    table = main(["--quick", "--results-dir", str(tmp_path)])
    assert (tmp_path / "out" / "figures" / "depth_width_quick.png").stat().st_size > 10_000
    assert (tmp_path / "out" / "tables" / "depth_width_quick.csv").exists()
    assert not (tmp_path / "out" / "tables" / "depth_width.csv").exists()
    assert len(table) == 4 * 4 * 2  # M = 2..16, 4 activations, tree and star
    assert (table.inits == 5).all() and (table["mean"] > 0).all()
    mean = table.set_index(["activation", "graph", "leaves"])["mean"]
    for act in ("identity", "tanh", "relu", "gelu"):
        # M = 2: the tree is the star (same graph, one layer, same seed)
        assert mean[act, "tree", 2] == mean[act, "star", 2]
        # depth costs sensitivity much faster than width
        assert mean[act, "tree", 16] < mean[act, "star", 16] / 4
    layers = table[table.activation == "tanh"].set_index(["graph", "leaves"]).layers
    assert [layers["tree", m] for m in (2, 4, 8, 16)] == [1, 2, 3, 4]
    assert (layers["star"] == 1).all()


def test_vmapped_jacobian_equals_one_model_at_a_time():
    """The study's vmap over stacked initialisations gives each model's own Jacobian."""
    from benchmarks.studies.depth_width import leaf_sensitivity

    graph, leaves, layers = tree(8)
    got = leaf_sensitivity(graph, leaves, layers, "tanh", inits=3, seed=1)
    torch.manual_seed(1)
    models = [GCN(4, layers, act="tanh") for _ in range(3)]
    x = torch.randn(3, graph.num_nodes, 4)
    for r, model in enumerate(models):
        jac = torch.autograd.functional.jacobian(lambda z, m=model: m(z, graph)[0], x[r])
        expected = jac[:, leaves].abs().sum((0, 2)).mean()
        torch.testing.assert_close(got[r], expected)
    graph, leaves, layers = star(8)
    assert layers == 1 and graph.num_nodes == 9 and leaves.tolist() == list(range(1, 9))
