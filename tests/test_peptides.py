"""LRGB Peptides through PyG's real LRGBDataset, on a small fixture in the real raw format
(tests/data/lrgb, written by tests/data/make_lrgb_fixture.py); no network needed."""

import math
import os
import shutil
import subprocess
import sys
from types import SimpleNamespace

import pytest
import torch
import torch_geometric.nn
from sklearn.metrics import average_precision_score
from torch_geometric.datasets import LRGBDataset

from benchmarks.core.errors import ConfigError
from benchmarks.engine.runner import generate_data, prepare, run
from benchmarks.tasks import Peptides
from benchmarks.tasks.base import Meter
from benchmarks.tasks.peptides import ATOM_VOCABULARY, BOND_VOCABULARY, AtomEncoder, BondEncoder
from tests.data.make_lrgb_fixture import SPLITS, build
from tests.helpers import CONF, ROOT, compose_config

FIXTURE = ROOT / "tests" / "data" / "lrgb"
OUTPUTS = {"func": 10, "struct": 11}


def copy_fixture(directory):
    """A copy of the fixture to use as `task.root` (LRGBDataset writes processed files there)."""
    root = directory / "lrgb"
    shutil.copytree(FIXTURE, root)
    return root


@pytest.fixture(scope="module")
def lrgb_root(tmp_path_factory):
    return copy_fixture(tmp_path_factory.mktemp("peptides"))


def peptides_config(root, name: str, model: str = "gcn", *overrides: str, results_dir=None):
    quick = ["train.max_epochs=1", "train.batch_size=4", "model.dim=16"]
    task = ["task=peptides", f"task.name={name}", f"task.root={root}"]
    return compose_config([*task, f"model={model}", *quick, *overrides], results_dir)


def test_fixture_is_what_its_script_builds():
    for name, splits in build().items():
        for split, graphs in splits.items():
            stored = torch.load(FIXTURE / name / "raw" / f"{split}.pt")
            assert len(stored) == len(graphs)
            for a, b in zip(stored, graphs, strict=True):
                assert all(torch.equal(u, v) for u, v in zip(a, b, strict=True))
    assert sum(p.stat().st_size for p in FIXTURE.rglob("*.pt")) < 100_000


@pytest.mark.parametrize("name", ["func", "struct"])
def test_fixture_loads_through_lrgb_dataset(lrgb_root, name):
    for split, count in SPLITS.items():
        dataset = LRGBDataset(str(lrgb_root), f"Peptides-{name}", split)
        assert len(dataset) == count
        for data in dataset:
            n, e = data.num_nodes, data.num_edges
            assert data.x.shape == (n, 9) and data.x.dtype == torch.long
            assert data.edge_attr.shape == (e, 3) and data.edge_index.shape == (2, e)
            assert data.y.shape == (1, OUTPUTS[name])
            assert (data.x < torch.tensor(ATOM_VOCABULARY)).all() and (data.x >= 0).all()
            assert (data.edge_attr < torch.tensor(BOND_VOCABULARY)).all()
            assert n >= 20  # chains of residues, not toy graphs

    data = Peptides(name, root=str(lrgb_root)).generate(0)
    assert {split: len(graphs) for split, graphs in data.items()} == SPLITS
    batch = data["train"].batch(torch.arange(len(data["train"])))
    assert batch.y.shape == (SPLITS["train"], OUTPUTS[name])
    assert batch.x.shape[1] == 9 and batch.edge_attr.shape == (batch.edge_index.shape[1], 3)
    assert int(batch.batch.max()) == SPLITS["train"] - 1


def test_encoders_cover_every_vocabulary_value():
    dim = 8
    for encoder, vocabulary, key in [
        (AtomEncoder(dim), ATOM_VOCABULARY, "x"),
        (BondEncoder(dim), BOND_VOCABULARY, "edge_attr"),
    ]:
        for column, size in enumerate(vocabulary):
            values = torch.zeros(size, len(vocabulary), dtype=torch.long)
            values[:, column] = torch.arange(size)
            out = encoder(SimpleNamespace(**{key: values}))
            assert out.shape == (size, dim) and torch.isfinite(out).all()
            assert len(out.unique(dim=0)) == size  # every value its own embedding
            values[0, column] = size
            with pytest.raises(IndexError):
                encoder(SimpleNamespace(**{key: values}))


def test_average_precision_is_lrgbs():
    task = Peptides("func")
    y = torch.tensor(
        [
            [1.0, 0.0, 0.0],
            [0.0, float("nan"), 0.0],
            [1.0, 1.0, 0.0],
            [0.0, 0.0, 0.0],
            [1.0, 1.0, 0.0],
            [0.0, 0.0, 0.0],
        ]
    )
    pred = torch.tensor(
        [
            [2.0, 0.1, 1.0],
            [0.5, 9.0, -1.0],
            [-0.3, 0.7, 0.0],
            [0.9, -2.0, 3.0],
            [1.5, 0.2, 0.4],
            [-1.0, 0.3, 0.1],
        ]
    )
    known = ~torch.isnan(y[:, 1])
    expected = (
        average_precision_score(y[:, 0], pred[:, 0])
        + average_precision_score(y[known, 1], pred[known, 1])
    ) / 2  # label 2 has no positive: left out; label 1's NaN row ignored
    assert task.split_metric(pred, y) == pytest.approx(expected)
    assert math.isnan(task.split_metric(pred[:, 2:], y[:, 2:]))
    assert task.metric == "ap" and task.higher_is_better and task.whole_split


def test_mae_per_graph_averages_to_the_global_mae():
    task = Peptides("struct")
    generator = torch.Generator().manual_seed(0)
    pred, y = torch.randn(7, 11, generator=generator), torch.randn(7, 11, generator=generator)
    meter = Meter(task, "val")
    for rows in (slice(0, 3), slice(3, 7)):  # batches of unequal size
        batch = SimpleNamespace(y=y[rows], num_graphs=len(y[rows]))
        meter.update(pred[rows], batch, task.loss(pred[rows], batch))
    out = meter.compute()
    assert out["val/mae"] == pytest.approx((pred - y).abs().mean().item())
    assert out["val/loss"] == pytest.approx(out["val/mae"])  # L1 loss: the same mean
    assert task.metric == "mae" and not task.higher_is_better


def test_missing_dataset_without_network_is_one_clear_line(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    # A refused proxy: the download fails at once, here and on machines with a network.
    env = os.environ | {"https_proxy": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"}
    args = [
        sys.executable,
        "run.py",
        "task=peptides",
        f"task.root={empty}",
        "model=gcn",
        f"results_dir={tmp_path / 'results'}",
        "logger=none",
        "progress=false",
    ]
    out = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 2, out.stderr
    errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in out.stderr, out.stderr
    (error,) = errors
    assert error.startswith("error: task.root: no Peptides-func data in")
    assert LRGBDataset.urls["peptides-func"] in error
    assert f"{empty / 'peptides-func' / 'raw'}/" in error and "peptidesfunc/" in error
    assert not (tmp_path / "results" / "runs").exists()


def test_partial_raw_directory_is_refused_and_kept(tmp_path):
    root = copy_fixture(tmp_path)
    raw = root / "peptides-struct" / "raw"
    (raw / "val.pt").unlink()
    with pytest.raises(ConfigError, match=r"task.root: .*raw lacks val.pt"):
        Peptides("struct", root=str(root)).generate(0)
    assert (raw / "train.pt").exists() and (raw / "test.pt").exists()


@pytest.mark.parametrize("name", ["func", "struct"])
@pytest.mark.parametrize("model", ["gcn", "gine"])
def test_one_training_step(lrgb_root, name, model):
    task, net, num_layers, _ = prepare(peptides_config(lrgb_root, name, model))
    assert num_layers == 6 and task.name == "peptides" and not task.readout_node
    data = generate_data(task, 0, num_layers)
    batch = data["train"].batch(torch.arange(4))
    pred = net(batch)
    assert pred.shape == (4, OUTPUTS[name]) and torch.isfinite(pred).all()
    task.loss(pred, batch).backward()
    grads = {n: p.grad for n, p in net.named_parameters()}
    assert all(g is not None and torch.isfinite(g).all() for g in grads.values())
    # only a model that reads the bond features has (and counts) the bond encoder
    assert (net.edge_encoder is not None) == (model == "gine")
    if model == "gine":
        assert batch.edge_embedding.shape == (batch.edge_index.shape[1], 16)


# The published Peptides presets (every base model: tests/test_models.py).
PEPTIDES_PRESETS = [
    *(f"tonshoff/{p.stem}" for p in sorted((CONF / "model" / "tonshoff").glob("*.yaml"))),
    "glstm_paper/glstm_peptides",
    "arroyo/kgcn_ssm_peptides",
    "drew_paper/drew_peptides",
]


@pytest.mark.parametrize("name", ["func", "struct"])
@pytest.mark.parametrize("model", PEPTIDES_PRESETS)
def test_every_preset_trains_one_step_on_peptides(lrgb_root, model, name):
    cfg = compose_config(
        ["task=peptides", f"task.name={name}", f"task.root={lrgb_root}", f"model={model}"]
    )
    task, net, num_layers, _ = prepare(cfg)
    batch = generate_data(task, 0, num_layers)["train"].batch(torch.arange(4))
    pred = net(batch)
    assert pred.shape == (4, OUTPUTS[name]) and torch.isfinite(pred).all()
    task.loss(pred, batch).backward()
    grads = [p.grad for p in net.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("name", ["func", "struct"])
def test_one_epoch_through_the_runner(lrgb_root, tmp_path, name):
    result = run(peptides_config(lrgb_root, name, results_dir=tmp_path / "results"))
    metric = {"func": "ap", "struct": "mae"}[name]
    assert result["metric"] == metric and result["score_key"] == f"test/{metric}"
    assert math.isfinite(result["score"]) and result["epochs"] == 1
    assert result["task"] == "peptides" and result["config"]["task"]["name"] == name


def test_rwse_reaches_the_encoder(lrgb_root):
    cfg = peptides_config(lrgb_root, "func", "gcn", "task.positional_encoding=rwse")
    task, net, num_layers, _ = prepare(cfg)
    graphs = generate_data(task, 0, num_layers)["train"]
    assert (lrgb_root / "peptides-func" / "processed_rwse20").is_dir()
    assert graphs.x.shape[1] == 9 + 20 and graphs.x.dtype == torch.float

    n = int(graphs.num_nodes[0])
    edges = graphs.edge_index[:, : graphs.edge_ptr[1]]
    adjacency = torch.zeros(n, n)
    adjacency[edges[0], edges[1]] = 1.0
    walk = adjacency / adjacency.sum(1, keepdim=True)  # D^-1 A
    returns = torch.stack([torch.linalg.matrix_power(walk, k).diagonal() for k in range(1, 21)], 1)
    assert torch.allclose(graphs.x[:n, 9:], returns, atol=1e-5)
    assert torch.equal(graphs.x[:n, :9].long().float(), graphs.x[:n, :9])

    net.eval()
    batch = graphs.batch(torch.arange(2))
    shifted = batch.clone()
    shifted.x = batch.x.clone()
    shifted.x[:, 9:] += 1.0
    assert not torch.allclose(net.encoder(batch), net.encoder(shifted))
    assert net(batch).shape == (2, 10)


def test_head_depth_dropout_and_pooling_by_hand():
    """One Linear after sum pooling (the kGCN-SSM code's struct head): graph b's prediction is
    W sum_u h_u + c. Dropout(p) sits before each of the 3 Linears of Tönshoff et al.'s head."""
    from torch import nn

    torch.manual_seed(0)
    readout = Peptides("struct", head_layers=1, pooling="sum").make_readout(4).eval()
    h = torch.randn(5, 4)
    batch = SimpleNamespace(batch=torch.tensor([0, 0, 0, 1, 1]), num_graphs=2)
    linear = readout.mlp.lins[0]
    assert len(readout.mlp.lins) == 1
    expected = torch.stack([h[:3].sum(0), h[3:].sum(0)]) @ linear.weight.T + linear.bias
    torch.testing.assert_close(readout(h, batch), expected)

    head = Peptides("func", head_dropout=0.1).make_readout(4)
    assert (
        len(head.mlp.lins) == 3
        and head.input_dropout.p == 0.1
        and head.mlp.dropout[:2] == [0.1, 0.1]
    )
    head.train()
    torch.manual_seed(1)
    out = head(torch.ones(5, 4), batch)
    torch.manual_seed(1)
    x = nn.functional.dropout(torch.ones(2, 4), 0.1)
    for i, lin in enumerate(head.mlp.lins):
        x = lin(x)
        if i < 2:
            x = nn.functional.dropout(nn.functional.gelu(x), 0.1)
    torch.testing.assert_close(out, x)
    with pytest.raises(ConfigError, match="^task.head_dropout: must be a number in"):
        Peptides("func", head_dropout=1.0)
    with pytest.raises(ConfigError, match="^task.pooling: must be one of"):
        Peptides("func", pooling="max")


def test_laplacian_pe_is_the_unnormalised_laplacians_eigenpairs():
    """A 5-node path (distinct eigenvalues) against networkx's Laplacian and numpy's eigh: the
    k = 3 smallest pairs, the constant eigenvector first, unit norm, equal up to each
    eigenvector's sign; with k = 7 > N the last two frequencies are NaN."""
    import networkx as nx
    import numpy as np
    from torch_geometric.data import Data
    from torch_geometric.utils import from_networkx

    from benchmarks.tasks.laplacian_pe import AddLaplacianPE

    path = nx.path_graph(5)
    values, vectors = np.linalg.eigh(nx.laplacian_matrix(path).toarray().astype(float))
    edge_index = from_networkx(path).edge_index
    pe = AddLaplacianPE(3)(Data(edge_index=edge_index, num_nodes=5)).laplacian_pe
    assert pe.shape == (5, 6)
    ours = pe[:, :3].numpy()
    signs = np.sign((ours * vectors[:, :3]).sum(0))
    np.testing.assert_allclose(ours * signs, vectors[:, :3], atol=1e-6)
    np.testing.assert_allclose(np.abs(ours[:, 0]), 1 / np.sqrt(5), atol=1e-6)
    np.testing.assert_allclose(
        pe[:, 3:].numpy(), np.tile(np.clip(values[:3], 0, None), (5, 1)), atol=1e-6
    )
    padded = AddLaplacianPE(7)(Data(edge_index=edge_index, num_nodes=5)).laplacian_pe
    assert padded[:, 5:7].isnan().all() and padded[:, 12:].isnan().all()
    assert not padded[:, :5].isnan().any() and not padded[:, 7:12].isnan().any()


def test_laplacian_pe_encoder_by_hand():
    """pe_u = sum over the present frequencies of ReLU(W2 ReLU(W1 [s phi; lambda] + b1) + b2):
    absent (NaN) frequencies add nothing; evaluation keeps the signs, training flips them per
    frequency for the whole batch."""
    from benchmarks.tasks.laplacian_pe import LaplacianPEEncoder

    torch.manual_seed(0)
    encoder = LaplacianPEEncoder(3, 4).eval()
    pe = torch.tensor(
        [
            [0.5, -0.2, float("nan"), 0.0, 1.5, float("nan")],
            [-0.5, 0.7, float("nan"), 0.0, 1.5, float("nan")],
        ]
    )
    first, _, second, _ = encoder.deep_set

    def term(vector, value):
        hidden = torch.relu(first(torch.tensor([vector, value])))
        return torch.relu(second(hidden))

    expected = torch.stack([term(0.5, 0.0) + term(-0.2, 1.5), term(-0.5, 0.0) + term(0.7, 1.5)])
    torch.testing.assert_close(encoder(pe), expected)
    encoder.train()
    outputs = {tuple(encoder(pe)[0].tolist()) for _ in range(40)}
    flips = {
        tuple((term(a * 0.5, 0.0) + term(b * -0.2, 1.5)).tolist())
        for a in (1.0, -1.0)
        for b in (1.0, -1.0)
    }
    assert len(outputs) > 1  # signs drawn afresh each training call
    for out in outputs:
        assert any(torch.allclose(torch.tensor(out), torch.tensor(f)) for f in flips)


def test_lappe_reaches_the_encoder_beside_the_atoms(lrgb_root):
    cfg = peptides_config(
        lrgb_root, "struct", "gcn", "task.positional_encoding=lappe", "model.dim=24"
    )
    task, net, num_layers, _ = prepare(cfg)
    graphs = generate_data(task, 0, num_layers)["train"]
    assert (lrgb_root / "peptides-struct" / "processed_lappe10").is_dir()
    assert graphs.x.shape[1] == 9 + 2 * 10 and graphs.x.dtype == torch.float
    net.eval()
    batch = graphs.batch(torch.arange(2))
    encoded = net.encoder(batch)
    assert encoded.shape == (batch.num_nodes, 24)
    atoms_only = net.encoder.atoms(batch.x[:, :9].long())
    torch.testing.assert_close(encoded[:, :8], atoms_only)  # 24 - 16 atom columns, then LapPE
    torch.testing.assert_close(encoded[:, 8:], net.encoder.lappe(batch.x[:, 9:]))
    too_narrow = peptides_config(lrgb_root, "struct", "gcn", "task.positional_encoding=lappe")
    with pytest.raises(ConfigError, match="model.dim: must exceed 16"):
        prepare(too_narrow)


@pytest.mark.parametrize("experiment", ["peptides", "peptides_glstm"])
def test_the_paper_experiments_encode_func_with_rwse_and_struct_with_lappe(experiment):
    for name, encoding in (("func", "rwse"), ("struct", "lappe")):
        cfg = compose_config([f"experiment={experiment}", f"task.name={name}"])
        assert cfg.task.positional_encoding == encoding


# The codes' protocols: (experiment, dataset) -> (pooling, grad clip, epochs, plateau patience)
CODE_PROTOCOLS = {
    ("peptides_drew", "func"): ("mean", None, 300, 20),
    ("peptides_drew", "struct"): ("mean", None, 300, 20),
    ("peptides_kgcn_ssm", "func"): ("mean", 1.0, 1500, 100),
    ("peptides_kgcn_ssm", "struct"): ("sum", None, 1500, 100),
}


@pytest.mark.parametrize(("experiment", "name"), sorted(CODE_PROTOCOLS))
def test_drew_and_kgcn_ssm_run_their_codes_protocols(lrgb_root, experiment, name):
    cfg = compose_config(
        [f"experiment={experiment}", f"task.name={name}", f"task.root={lrgb_root}"]
    )
    pooling, clip, epochs, plateau = CODE_PROTOCOLS[experiment, name]
    assert cfg.task.get("pooling", "mean") == pooling  # mean: the class default
    assert (cfg.train.grad_clip, cfg.train.max_epochs) == (clip, epochs)
    assert cfg.train.scheduler == "plateau" and cfg.train.plateau_patience == plateau
    assert cfg.train.plateau_monitor == "loss" and cfg.train.batch_size == 128
    assert cfg.task.head_layers == 1 and cfg.task.positional_encoding == "none"
    task, net, num_layers, _ = prepare(cfg)
    batch = generate_data(task, 0, num_layers)["train"].batch(torch.arange(4))
    assert net(batch).shape == (4, OUTPUTS[name])
    linears = (torch.nn.Linear, torch_geometric.nn.Linear)
    assert sum(isinstance(m, linears) for m in net.readout.modules()) == 1
