"""The range measure (benchmarks/metrics/influence.py): by hand, against PyG, and in a run."""

import json
import math
from pathlib import Path

import pandas as pd
import pytest
import torch
from omegaconf import OmegaConf
from torch import nn
from torch_geometric.data import Data
from torch_geometric.nn import SimpleConv
from torch_geometric.utils import total_influence

from benchmarks.engine.network import Network
from benchmarks.engine.runner import prepare, run
from benchmarks.measure import remeasure
from benchmarks.metrics.influence import hop_influence, influence_range, range_summary
from benchmarks.metrics.sensitivity import measure_sensitivity
from benchmarks.tasks.graph_transfer import GraphTransfer
from benchmarks.tasks.readouts import PerNodeReadout
from tests.helpers import TINY_TASKS, compose_config


def test_range_on_a_hand_computed_table():
    """Graph 0: hops 0, 1, 2 with |J| 1, 2, 1 -> (0 + 2 + 2) / 4 = 1; a node that cannot reach
    the readout (hop -1) is left out. Graph 1: all influence at hop 0 -> 0. Graph 2: no
    influence -> NaN, left out of the mean. Mean 0.5, std sqrt(0.5)."""
    nodes = pd.DataFrame(
        {
            "graph": [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2],
            "hop": [0, 1, 2, -1] * 3,
            "sens": [1.0, 2.0, 1.0, 5.0, 3.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        }
    )
    influence = hop_influence(nodes)
    assert list(influence.columns) == [0, 1, 2]
    assert influence.loc[0].tolist() == [1.0, 2.0, 1.0]
    rho = influence_range(influence)
    assert rho.loc[0] == 1.0 and rho.loc[1] == 0.0 and math.isnan(rho.loc[2])
    summary, graphs = range_summary(nodes)
    assert summary["sens/range"] == pytest.approx(0.5)
    assert summary["sens/range_std"] == pytest.approx(math.sqrt(0.5))
    assert list(graphs.columns) == [
        "graph",
        "range",
        "influence",
        "influence_hop_0",
        "influence_hop_1",
        "influence_hop_2",
    ]
    assert graphs.influence.tolist() == [4.0, 3.0, 0.0]


class TwoSumLayers(nn.Module):
    """h = A A x with A the line's adjacency, self-loops included: linear, no parameters."""

    def __init__(self):
        super().__init__()
        self.conv = SimpleConv(aggr="sum")

    def forward(self, x, batch):
        return self.conv(self.conv(x, batch.edge_index), batch.edge_index)


def test_range_of_a_linear_model_on_a_path():
    """Line of 4 nodes 0 - 1 - 2 - 3 with self-loops, readout node 3, y = W (A^2 x)_3. Row 3 of
    A^2 is [0, 1, 2, 2], so |J_v|_1 = c_v |W|_1 with c = 2, 2, 1, 0 at hops 0, 1, 2, 3 and the
    range is (0 * 2 + 1 * 2 + 2 * 1 + 3 * 0) / 5 = 0.8 whatever W is."""
    task = GraphTransfer(topology="line", distance=4, num_train=2, num_val=2, num_test=3)
    net = Network(task.make_encoder(8), TwoSumLayers(), PerNodeReadout(8, 1))
    sens = measure_sensitivity(net, task, task.generate(0)["test"], num_graphs=3)
    weight = net.readout.mlp.lins[0].weight.abs().sum().item()
    expected = pd.Series([2.0, 2.0, 1.0, 0.0]) * weight
    for g in range(3):
        row = sens.graphs.iloc[g]
        got = [row[f"influence_hop_{h}"] for h in range(4)]
        assert got == pytest.approx(expected.tolist(), rel=1e-5)
    assert sens.graphs.range.tolist() == pytest.approx([0.8] * 3)
    assert sens.summary["sens/range"] == pytest.approx(0.8)
    assert sens.summary["sens/range_std"] == pytest.approx(0.0, abs=1e-6)


class ReadoutOnEveryRow(nn.Module):
    """`model(x, edge_index) -> [n, O]` as total_influence calls it, for one graph of a task:
    x its node inputs (encoded) and every row the graph's readout output, so that the row of the
    seed total_influence picks is the readout output whatever the seed."""

    def __init__(self, net, batch):
        super().__init__()
        self.net, self.batch = net, batch

    def forward(self, x, edge_index):
        # max_hops covers every node that reaches the readout: PyG's k-hop subgraph is the graph
        assert len(x) == self.batch.num_nodes and torch.equal(edge_index, self.batch.edge_index)
        return self.net.graph_outputs(self.batch, x).expand(len(x), -1)


def pyg_influence(net, graphs, g: int, normalize: bool) -> tuple[torch.Tensor, float]:
    """total_influence with the readout node as its single sampled seed: it draws the seed as
    torch.randperm(n)[0], so the global seed is set to the first one that draws the readout."""
    topology = graphs.topology
    batch = graphs.batch(torch.tensor([g]))
    with torch.no_grad():
        x = net.encoder(batch)
    data = Data(x=x, edge_index=batch.edge_index, num_nodes=topology.num_nodes)
    with torch.random.fork_rng():
        seed = 0
        while True:
            torch.manual_seed(seed)
            if torch.randperm(topology.num_nodes)[0] == topology.readout:
                break
            seed += 1
        torch.manual_seed(seed)
        return total_influence(
            ReadoutOnEveryRow(net, batch),
            data,
            max_hops=int(topology.hops.max()),
            num_samples=1,
            normalize=normalize,
            vectorize=False,  # torch's legacy vmap cannot run gLSTM's sparse products
        )


@pytest.mark.parametrize(
    "task, model",
    [("nar", "gcn"), ("tree_neighbors_match", "glstm"), ("ring_transfer", "gin")],
)
def test_range_and_hop_influence_agree_with_pyg_total_influence(task, model):
    r"""Cross-check against PyG 2.8's :func:`torch_geometric.utils.total_influence`.

    PyG, for each sampled seed node s of one graph: the Jacobian of the model's output row s
    w.r.t. ``data.x`` of the ``max_hops`` induced subgraph around s (the model is run on that
    subgraph), its entrywise L1 norm per node, summed per exact hop distance to s (BFS along the
    edges into s) -> I_s(0..k); ``avg_influence`` is the mean of I_s over the seeds, divided by
    its hop-0 entry if ``normalize``; R is the mean over the seeds of sum_h h I_s(h) / sum_h
    I_s(h), from the unnormalised I_s. Ours: one readout node per graph, the Jacobian
    of the graph's readout output w.r.t. the encoded input over the whole graph, the same norm
    and hop distance, and rho_g = sum_h h I_g(h) / sum_h I_g(h) averaged over graphs.

    They coincide when the seed is the readout node and ``max_hops`` reaches every node that
    reaches it (then the subgraph is the whole graph): per graph, PyG's influence vector with
    ``normalize=False`` is our I_g, with ``normalize=True`` it is I_g / I_g(0), and its R is our
    rho_g. Cases: an undirected star (NAR), a directed tree with self-loops and gLSTM, a ring.
    """
    cfg = compose_config([f"task={task}", f"model={model}", *TINY_TASKS[task]])
    task_obj, net, num_layers, _ = prepare(cfg)
    graphs = task_obj.generate(0)["test"]
    graphs.num_hops = num_layers
    sens = measure_sensitivity(net, task_obj, graphs, num_graphs=3)
    ours = hop_influence(sens.nodes)
    assert ours.shape[1] > 2  # influence reaches beyond the first hop: not a trivial check
    for g in range(3):
        influence, breadth = pyg_influence(net, graphs, g, normalize=False)
        expected = torch.tensor(ours.loc[g].to_numpy()).float()
        torch.testing.assert_close(influence, expected, rtol=1e-5, atol=1e-6)
        assert breadth == pytest.approx(sens.graphs.range[g], rel=1e-5)
    normalised, _ = pyg_influence(net, graphs, 0, normalize=True)
    torch.testing.assert_close(
        normalised, torch.tensor((ours.loc[0] / ours.loc[0, 0]).to_numpy()).float()
    )
    assert sens.summary["sens/range"] == pytest.approx(sens.graphs.range.mean())


def test_run_and_remeasure_record_the_range(tiny):
    """A run stores sens/range in result.json and sensitivity_graphs.csv; re-measuring a stored
    run writes them again (for as many graphs as asked)."""
    cfg = tiny("ring_transfer", "sensitivity.num_graphs=8")
    result = run(cfg)
    assert 0 < result["sens/range"] < cfg.task.distance and result["sens/range_std"] >= 0
    path = next(
        p for p in (Path(cfg.results_dir) / "runs" / cfg.experiment_name).iterdir() if p.is_dir()
    )
    stored = json.loads((path / "result.json").read_text())
    assert stored["sens/range"] == pytest.approx(result["sens/range"])
    graphs = pd.read_csv(path / "sensitivity_graphs.csv")
    assert len(graphs) == 8 and graphs.range.mean() == pytest.approx(result["sens/range"])
    again = remeasure(path, ["sensitivity.num_graphs=4"])
    assert len(pd.read_csv(path / "sensitivity_graphs.csv")) == 4
    assert json.loads((path / "result.json").read_text())["sens/range"] == again["sens/range"]


def test_remeasure_a_run_stored_before_top_level_options_were_added(tiny):
    """A run stored before `budget` and `amp` existed (its config.yaml lacks them) is re-measured
    with them off: null top-level keys do not enter the hash, so its directory still matches."""
    cfg = tiny("ring_transfer", "sensitivity.num_graphs=2")
    run(cfg)
    path = next(
        p for p in (Path(cfg.results_dir) / "runs" / cfg.experiment_name).iterdir() if p.is_dir()
    )
    stored = OmegaConf.load(path / "config.yaml")
    assert stored.budget is None and stored.amp is None
    OmegaConf.save(
        OmegaConf.masked_copy(stored, [k for k in stored if k not in ("budget", "amp")]),
        path / "config.yaml",
    )
    assert "sens/range" in remeasure(path)
