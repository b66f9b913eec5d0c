"""Over-squashing measurements: capacity in bits and batched sensitivity (docs/measurements.md)."""

import math
import tempfile
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from omegaconf import OmegaConf

from benchmarks.engine.runner import main, prepare, run
from benchmarks.engine.store import load_results
from benchmarks.metrics.capacity import (
    capacity_table,
    capacity_threshold,
    information_bits,
    peak_stored_bits,
    stored_bits,
)
from benchmarks.metrics.sensitivity import (
    measure_sensitivity,
    mixing_statistics,
    pairwise_ratio,
    readout_jacobian,
)
from benchmarks.tasks.nar import KEY, QUERY
from tests.helpers import CONF, LOCAL_MODELS, MODELS, TINY_TASKS, compose_config

pytestmark = pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta")

# ---------------------------------------------------------------------------------------------
# capacity


@pytest.mark.parametrize("classes", [2, 4, 8, 64])
def test_information_is_zero_at_chance_full_at_one_monotone_between(classes):
    assert information_bits(1 / classes, classes) == pytest.approx(0.0, abs=1e-12)
    assert information_bits(1.0, classes) == pytest.approx(math.log2(classes))
    acc = np.linspace(1 / classes, 1, 200)
    bits = information_bits(acc, classes)
    assert np.all(np.diff(bits) > 0)
    assert information_bits(0.0, classes) == 0.0  # clipped below chance
    raw = information_bits(0.0, classes, clip=False)  # the formula: which class it is not
    assert raw == pytest.approx(math.log2(classes / (classes - 1)))
    assert np.all(information_bits(np.linspace(0, 1, 101), classes, clip=False) >= 0)


def test_information_matches_binary_entropy_for_two_classes():
    a = 0.8
    entropy = -(a * math.log2(a) + (1 - a) * math.log2(1 - a))
    assert information_bits(a, 2) == pytest.approx(1 - entropy)


def test_information_keeps_shape_and_series_index():
    acc = pd.Series([0.25, 1.0, np.nan], index=["a", "b", "c"])
    bits = information_bits(acc, 4)
    assert isinstance(bits, pd.Series) and list(bits.index) == ["a", "b", "c"]
    assert bits["a"] == 0 and bits["b"] == pytest.approx(2.0) and np.isnan(bits["c"])
    assert isinstance(information_bits(0.5, 4), float)
    with pytest.raises(ValueError, match="num_classes"):
        information_bits(0.5, 1)
    with pytest.raises(ValueError, match="accuracy"):
        information_bits(1.5, 4)


def test_stored_bits_is_keys_times_information():
    assert stored_bits(1.0, 8, 8) == pytest.approx(24.0)
    np.testing.assert_allclose(
        stored_bits(np.array([1.0, 0.5]), 16, np.array([16, 32])),
        [64.0, 32 * information_bits(0.5, 16)],
    )


def test_capacity_threshold_interpolates_in_log_n():
    sizes = [4, 8, 16, 32]
    # 0.9 halfway between 0.98 at N=8 and 0.82 at N=16 -> sqrt(8 * 16)
    assert capacity_threshold(sizes, [1.0, 0.98, 0.82, 0.4]) == pytest.approx(math.sqrt(128))
    assert capacity_threshold(sizes[::-1], [0.4, 0.82, 0.98, 1.0]) == pytest.approx(math.sqrt(128))
    assert capacity_threshold(sizes, [1.0, 0.9, 0.5, 0.4]) == pytest.approx(8.0)  # on the level
    assert capacity_threshold(sizes, [1, 1, 1, 0.95]) == 32.0  # all above: the largest N
    assert math.isnan(capacity_threshold(sizes, [0.5, 0.4, 0.3, 0.2]))  # none above
    assert capacity_threshold(sizes, [1.0, 0.8, 0.95, 0.2]) > 16  # the last point above wins
    assert capacity_threshold(pd.Series(sizes), pd.Series([1.0, np.nan, 0.5, 0.4])) > 4
    with pytest.raises(ValueError, match="unique"):
        capacity_threshold([4, 4], [1.0, 0.9])


def test_peak_stored_bits_and_table():
    sizes, accs = [4, 8, 16], [1.0, 1.0, 0.5]
    assert peak_stored_bits(sizes, accs) == pytest.approx(
        max(8.0, 24.0, 16 * information_bits(0.5, 16))
    )
    runs = pd.DataFrame(
        {
            "model": ["a"] * 6 + ["b"] * 3,
            "size/num_keys": [4, 4, 8, 8, 16, 16, 4, 8, 16],
            "score": [1.0, 1.0, 1.0, 0.96, 0.5, 0.7, 0.5, 0.3, 0.1],
        }
    )
    table = capacity_table(runs, by=["model"])
    assert table.loc["a", "capacity_n"] == pytest.approx(
        capacity_threshold([4, 8, 16], [1, 0.98, 0.6])
    )
    expected = max(stored_bits(1.0, 4, 4), stored_bits(0.98, 8, 8), stored_bits(0.6, 16, 16))
    assert table.loc["a", "peak_bits"] == pytest.approx(expected)
    assert table.loc["a", "peak_bits_n"] == 16
    assert table.loc["a", "seeds"] == 6 and table.loc["a", "sizes"] == 3
    assert math.isnan(table.loc["b", "capacity_n"])


# ---------------------------------------------------------------------------------------------
# sensitivity


def network(task: str, model: str, *overrides: str, graphs: str = "train"):
    """(task, net in eval mode, a GraphSet) built exactly as the runner builds them."""
    cfg = compose_config([f"task={task}", f"model={model}", *TINY_TASKS[task], *overrides])
    task_obj, net, num_layers, _ = prepare(cfg)
    data = task_obj.generate(0)
    for split in data.values():
        split.num_hops = num_layers
    return task_obj, net.eval(), data[graphs]


def per_graph_jacobian(net, graphs, b: int) -> torch.Tensor:
    """Reference: graph b alone, torch.func.jacrev (one vmapped backward) -> [O, n, d]."""
    batch = graphs.batch(torch.tensor([b]))
    with torch.no_grad():  # x, and no graph from the parameters (jacrev differentiates inside)
        x = net.encoder(batch)
        return torch.func.jacrev(lambda z: net(batch, z)[0])(x)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("task", ["nar", "tree_neighbors_match"])
def test_batched_jacobian_equals_per_graph_jacobian(task, model):
    """Every model config: one batch of graphs, with and without copies, equals the Jacobian of
    each graph computed alone by torch.func.jacrev (so graphs do not leak into each other,
    BatchNorm included, and torch.func runs through every model)."""
    _, net, graphs = network(task, model)
    check_batched_against_jacrev(net, graphs)


@pytest.mark.parametrize(
    "overrides",
    [
        ["model.form=recurrent"],
        ["model.form=parallel", "model.khop=true"],
        ["model.input_gate=edge", "model.heads=2"],
        ["model.input_gate=neighbour", "model.share_weights=true"],
    ],
)
def test_jacrev_through_glstm_equals_batched_jacobian(overrides):
    """gLSTM's sparse products are torch.func-transformable in both memory forms and gates."""
    _, net, graphs = network("nar", "glstm", "model.dim=8", *overrides)
    check_batched_against_jacrev(net, graphs)


def check_batched_against_jacrev(net, graphs) -> None:
    index = torch.arange(4)
    n = graphs.topology.num_nodes
    reference = torch.cat([per_graph_jacobian(net, graphs, b) for b in index], dim=1)
    assert reference.abs().sum() > 0
    for copy_nodes in (1, 10**6):  # one output per pass; all outputs in one pass as copies
        batched = readout_jacobian(net, graphs, index, copy_nodes=copy_nodes)
        assert batched.shape == (reference.shape[0], len(index) * n, reference.shape[2])
        torch.testing.assert_close(batched, reference, rtol=1e-4, atol=1e-5)


def test_batchnorm_in_train_mode_would_couple_graphs():
    """Why the metrics switch to eval mode: train-mode BatchNorm mixes the graphs of a batch."""
    _, net, graphs = network("nar", "gcn", "model.norm=batch")
    net.train()
    coupled = readout_jacobian(net, graphs, torch.arange(4))
    net.eval()
    alone = torch.cat([per_graph_jacobian(net, graphs, b) for b in range(4)], dim=1)
    assert not torch.allclose(coupled, alone, atol=1e-5)
    torch.testing.assert_close(readout_jacobian(net, graphs, torch.arange(4)), alone)


@pytest.mark.parametrize("model", LOCAL_MODELS)
def test_zero_beyond_receptive_field_nonzero_within(model):
    """RingTransfer, distance 4 (hops 0..4), a 2-hop receptive field without k-hop: hops 0-2
    can be felt (those within one hop per layer are), hops 3-4 are not. Two layers; one for
    gLSTM's ego input gate, whose stabiliser m_v (a max over v's neighbours) reaches two hops
    per layer (glstm/layer.py), so that only the arg-max neighbour is felt at the second hop."""
    ego = compose_config([f"model={model}"]).model.get("input_gate") == "ego"
    layers = 1 if ego else 2
    task, net, graphs = network(
        "ring_transfer",
        model,
        "task.distance=4",
        f"model.num_layers={layers}",
        "model.khop=false",
        graphs="test",
    )
    sens = measure_sensitivity(net, task, graphs, num_graphs=5)
    assert [sens.summary[f"sens/count_hop_{h}"] for h in range(5)] == [5, 10, 10, 10, 5]
    for hop in range(layers + 1):
        assert sens.summary[f"sens/hop_{hop}"] > 0
        assert (sens.nodes.sens[sens.nodes.hop == hop] > 0).all()
    assert (sens.nodes.sens[sens.nodes.hop > 2] == 0).all()


def test_pairwise_ratio_is_the_notebook_estimator_on_a_hand_computed_example():
    """Graph 0: selected 4, background 1 and 2 -> ratios 4, 2 -> 3. Graph 1: selected 1,
    background 4 and 1 -> ratios 0.25, 1 -> 0.625. Mean over graphs: 1.8125; the ratio of the
    means is 2.5 / 2 = 1.25 instead."""
    keys = pd.DataFrame(
        {
            "graph": [0, 0, 0, 1, 1, 1],
            "selected": [False, True, False, False, False, True],
            "sens": [1.0, 4.0, 2.0, 4.0, 1.0, 1.0],
        }
    )
    assert pairwise_ratio(keys, "sens") == pytest.approx(1.8125)
    assert pairwise_ratio(keys.assign(sens=[0.0, 4.0, 2.0, 4.0, 1.0, 1.0]), "sens") == math.inf
    assert math.isnan(pairwise_ratio(keys[keys.selected], "sens"))  # no background node


def test_nar_selected_background_and_parts():
    task, net, graphs = network("nar", "gcn", graphs="test")
    sens = measure_sensitivity(net, task, graphs, num_graphs=10)
    s, nodes = sens.summary, sens.nodes
    assert s["sens/num_graphs"] == 10 and len(nodes) == 10 * graphs.topology.num_nodes
    assert nodes.selected.sum() == 10 and (nodes[nodes.selected].role == KEY).all()
    # the key and value halves split the full L1 norm exactly
    np.testing.assert_allclose(nodes.sens_key + nodes.sens_value, nodes.sens, rtol=1e-5)
    keys = nodes[nodes.role == KEY]
    chosen, other = keys[keys.selected], keys[~keys.selected]
    for part in ("", "_key", "_value"):
        column = f"sens{part}"
        assert s[f"sens/selected{part}"] == pytest.approx(chosen[column].mean())
        assert s[f"sens/background{part}"] == pytest.approx(other[column].mean())
        assert s[f"sens/ratio_of_means{part}"] == pytest.approx(
            s[f"sens/selected{part}"] / s[f"sens/background{part}"]
        )
        per_pair = [
            chosen[chosen.graph == g][column].item() / v
            for g, v in zip(other.graph, other[column], strict=True)
        ]  # 10 graphs x 3 background keys, the same number per graph
        assert s[f"sens/ratio{part}"] == pytest.approx(np.mean(per_pair))
    assert set(sens.hops.columns) == {"hop", "sens", "std", "count"}


@pytest.mark.parametrize("model", ["gcn", "glstm"])
def test_narr_sensitivity_is_taken_wrt_the_raw_features(model):
    """NARR: |J_u|_1 over every raw feature column, the key part over the one-hot key columns
    [0, N), the value part over the remaining columns [N, F) (value and query one-hot)."""
    task, net, graphs = network("narr", model, graphs="test")
    sens = measure_sensitivity(net, task, graphs, num_graphs=3)
    batch = graphs.batch(torch.arange(3))
    features = batch.x.clone().requires_grad_(True)
    y = net(batch.update({"x": features}))
    jac = torch.stack(
        [torch.autograd.grad(y[:, o].sum(), features, retain_graph=True)[0] for o in range(16)]
    )  # [D, N, F]
    n = task.num_keys
    assert jac.shape[-1] == 2 * n + task.value_dim
    nodes = sens.nodes
    np.testing.assert_allclose(nodes.sens, jac.abs().sum((0, 2)), rtol=1e-4)
    np.testing.assert_allclose(nodes.sens_key, jac[..., :n].abs().sum((0, 2)), rtol=1e-4)
    np.testing.assert_allclose(nodes.sens_value, jac[..., n:].abs().sum((0, 2)), rtol=1e-4)
    assert (nodes[nodes.role == QUERY].sens_value > 0).all()  # the query one-hot is a value column


def mixing_by_finite_differences(net, graphs, b: int, eps: float = 1e-5) -> torch.Tensor:
    """H_u[o, i, j] of graph b without any double backward: central differences, in node u's
    value dim j, of the first derivatives d y[o] / d x_query[i] (key half). -> [n, O, d/2, d/2]."""
    batch = graphs.batch(torch.tensor([b]))
    with torch.no_grad():
        x = net.encoder(batch)  # [n, d]
    half = x.shape[1] // 2

    def query_gradient(z: torch.Tensor) -> torch.Tensor:  # [O, d/2]
        z = z.clone().requires_grad_(True)
        y = net(batch, z)[0]
        rows = [torch.autograd.grad(y[o], z, retain_graph=True)[0] for o in range(len(y))]
        return torch.stack(rows)[:, QUERY, :half]

    blocks = torch.zeros(x.shape[0], len(net(batch, x)[0]), half, half, dtype=x.dtype)
    for u in range(x.shape[0]):
        for j in range(half):
            step = torch.zeros_like(x)
            step[u, half + j] = eps
            blocks[u, :, :, j] = (query_gradient(x + step) - query_gradient(x - step)) / (2 * eps)
    return blocks


@pytest.mark.parametrize("model", MODELS)
def test_mixing_equals_finite_differences_of_first_derivatives(model):
    """Every model, gLSTM included: signed max, mean and Frobenius norm of the mixing block of
    every key node agree (1e-4) with a double-backward-free reference, on NAR with 2 keys and
    d = 4, in float64."""
    heads = ["model.heads=1"] if "heads" in OmegaConf.load(CONF / "model" / f"{model}.yaml") else []
    task, net, graphs = network(
        "nar", model, "task.num_keys=2", "model.dim=4", *heads, graphs="test"
    )
    net.double()
    blocks = torch.cat([mixing_by_finite_differences(net, graphs, b) for b in range(2)])
    assert blocks.abs().sum() > 0
    expected = {
        "mixing_max": blocks.amax((1, 2, 3)),
        "mixing_mean": blocks.mean((1, 2, 3)),
        "mixing_fro": blocks.square().sum((1, 2, 3)).sqrt(),
    }
    keys = graphs.topology.roles.repeat(2) == KEY  # other nodes sit on ties of max / ReLU
    for copy_nodes in (1, 10**6):
        got = mixing_statistics(net, graphs, torch.arange(2), copy_nodes=copy_nodes)
        for name, value in expected.items():
            torch.testing.assert_close(got[name][keys], value[keys], rtol=1e-4, atol=1e-7)


def test_glstm_mixing_is_reported_without_warnings():
    task, net, graphs = network("nar", "glstm", "model.dim=8", graphs="test")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sens = measure_sensitivity(net, task, graphs, num_graphs=3, mixing=True)
    for stat in ("max", "mean", "fro"):
        for group in ("selected", "background"):
            assert math.isfinite(sens.summary[f"sens/mixing_{stat}_{group}"])
    assert sens.summary["sens/mixing_fro_selected"] > 0
    assert {"mixing_max", "mixing_mean", "mixing_fro"} <= set(sens.nodes.columns)


def test_mixing_failure_is_a_warning_not_a_lost_run(monkeypatch):
    """A user's model without double backward loses only the mixing figures."""
    import benchmarks.metrics.sensitivity as sensitivity

    def broken(*args, **kwargs):
        raise RuntimeError("no double backward here")

    monkeypatch.setattr(sensitivity, "mixing_statistics", broken)
    task, net, graphs = network("nar", "gcn", graphs="test")
    with pytest.warns(RuntimeWarning, match="sensitivity.mixing skipped: no double backward"):
        sens = measure_sensitivity(net, task, graphs, num_graphs=3, mixing=True)
    assert math.isnan(sens.summary["sens/mixing_max_selected"]) and sens.summary["sens/ratio"] > 0


# ---------------------------------------------------------------------------------------------
# the runner records both


def test_run_records_sensitivity_and_capacity(tiny, tmp_path):
    result = run(tiny("nar"))
    assert (
        result["sens/num_graphs"] == 25 and result["sens/count_hop_1"] == 25 * 5
    )  # keys and relay
    assert {
        "sens/hop_0",
        "sens/hop_1",
        "sens/hop_2",
        "sens/ratio",
        "sens/ratio_value",
        "sens/ratio_of_means",
    } <= set(result)
    assert result["cap/num_classes"] == 4 and result["cap/max_bits"] == 8.0
    assert result["cap/info_bits"] == pytest.approx(information_bits(result["score"], 4))
    assert result["cap/bits"] == pytest.approx(4 * result["cap/info_bits"])
    (stored,) = load_results(tmp_path, "default")
    assert stored["sens/ratio"] == result["sens/ratio"]
    run_dir = next(p for p in (tmp_path / "runs" / "default").iterdir() if p.is_dir())
    hops = pd.read_csv(run_dir / "sensitivity_hops.csv")
    assert list(hops.hop) == [0, 1, 2]


def test_sensitivity_can_be_switched_off_and_is_validated(tiny, capsys):
    result = run(tiny("ring_transfer", "sensitivity.enabled=false"))
    assert not any(k.startswith("sens/") for k in result) and "cap/info_bits" in result
    assert "cap/bits" not in result  # stored bits are defined for NAR only
    with pytest.raises(SystemExit):
        main(tiny("nar", "sensitivity.num_graphs=0"))
    assert capsys.readouterr().err.startswith("error: sensitivity.num_graphs: ")


@pytest.mark.slow
def test_trained_glstm_prefers_the_selected_key():
    """gLSTM trained to perfect recall on NAR N=4 (about 25 s on 2 cores): the queried key node
    moves the output more than the other key nodes, most clearly through its value half."""
    overrides = [
        "task.num_train=1024",
        "task.num_val=128",
        "task.num_test=128",
        "train.max_epochs=30",
        "train.lr=0.005",
        "train.batch_size=64",
    ]
    cfg = compose_config(["task=nar", "task.num_keys=4", "model=glstm", *overrides])
    with tempfile.TemporaryDirectory() as results:
        result = run(OmegaConf.merge(cfg, {"results_dir": results}))
    assert result["score"] == 1.0
    assert result["sens/ratio"] > 1.25 and result["sens/ratio_value"] > 1.5
