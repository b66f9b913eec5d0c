"""Graph sLSTM and graph LSTM: each cell against a hand computation, stabilised = unstabilised,
no overflow at large pre-activations, permutation equivariance, state sizes, config errors."""

from __future__ import annotations

import math

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from torch_geometric.data import Batch

from benchmarks.core.errors import ConfigError
from glstm import GLSTM, GraphLSTM, GraphSLSTM
from tests.helpers import CONF
from tests.test_glstm import graph_case

PATH = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])  # the path 0 - 1 - 2, both directions
GATES = [
    {},
    {"forget_gate": "exp"},
    {"input_gate": "sigmoid"},
    {"input_gate": "none", "forget_gate": "none"},
    {"output_gate": False, "memory_mixing": False},
]


def path_batch(dim: int, seed: int = 0) -> Batch:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(3, dim, generator=gen, dtype=torch.float64)
    return Batch(x=x, edge_index=PATH, batch=torch.zeros(3, dtype=torch.long))


def neighbour_sums(x: torch.Tensor) -> torch.Tensor:
    out = torch.zeros_like(x)
    for sender, receiver in PATH.T.tolist():
        out[receiver] += x[sender]
    return out


def read_out(layer, x: torch.Tensor, h: torch.Tensor, heads: int) -> torch.Tensor:
    """x + W_out GroupNorm_H(h), node by node and head by head."""
    norm, out = layer.hidden_norm, x.clone()
    for u in range(x.shape[0]):
        normed = torch.empty_like(h[u])
        for k, block in enumerate(h[u].chunk(heads)):
            mean, var = block.mean(), block.var(unbiased=False)
            normed[k * len(block) : (k + 1) * len(block)] = (block - mean) / math.sqrt(
                var + norm.eps
            )
        affine = normed * norm.weight + norm.bias
        out[u] = x[u] + layer.lin_out.weight @ affine + layer.lin_out.bias
    return out


def slstm_by_hand(model: GraphSLSTM, x: torch.Tensor, gates: dict) -> torch.Tensor:
    """The unstabilised sLSTM recursion (Beck et al., xLSTM, 2024), one node, head and unit at a
    time."""
    sigmoid = lambda t: 1 / (1 + math.exp(-t))  # noqa: E731
    input_gate = {"exp": math.exp, "sigmoid": sigmoid, "none": lambda t: 1.0}
    forget_gate = {"sigmoid": sigmoid, "exp": math.exp, "none": lambda t: 1.0}
    i_of = input_gate[gates.get("input_gate", "exp")]
    f_of = forget_gate[gates.get("forget_gate", "sigmoid")]
    assert "f" not in model.layers[0].cell.gates  # the first layer starts from c = n = 0
    heads, d = model.heads, model.hidden_dim
    dh = d // heads
    h = c = nrm = torch.zeros(3, d, dtype=x.dtype)
    for layer in model.layers:
        cell = layer.cell
        a = torch.cat([x, neighbour_sums(x)], dim=1)
        h_new, c_new, n_new = torch.empty_like(h), torch.empty_like(c), torch.empty_like(nrm)
        for u in range(3):
            raw = cell.lin.weight @ a[u] + cell.lin.bias  # rows (head k, gate g, unit j)
            for k in range(heads):
                if cell.recurrent is not None:
                    mixed = h[u, k * dh : (k + 1) * dh] @ cell.recurrent[k]
                    raw[k * len(mixed) : (k + 1) * len(mixed)] += mixed
                for j in range(dh):
                    width = len(cell.gates) * dh  # rows per head: the gates in use
                    pre = {g: raw[k * width + r * dh + j].item() for r, g in enumerate(cell.gates)}
                    unit = k * dh + j
                    i = i_of(pre["i"]) if "i" in pre else 1.0
                    f = f_of(pre["f"]) if "f" in pre else 1.0
                    o = sigmoid(pre["o"]) if "o" in pre else 1.0
                    z_t = pre["z"]
                    c_new[u, unit] = f * c[u, unit] + i * math.tanh(z_t)
                    n_new[u, unit] = f * nrm[u, unit] + i
                    h_new[u, unit] = o * c_new[u, unit] / n_new[u, unit]
        h, c, nrm = h_new, c_new, n_new
        x = read_out(layer, x, h, heads)
    return x


def lstm_by_hand(model: GraphLSTM, x: torch.Tensor) -> torch.Tensor:
    """The classic LSTM recursion (gates i, f, g, o as torch orders them), node by node."""
    d = model.hidden_dim
    h = c = torch.zeros(3, d, dtype=x.dtype)
    for layer in model.layers:
        cell = layer.cell
        a = torch.cat([x, neighbour_sums(x)], dim=1)
        h_new, c_new = torch.empty_like(h), torch.empty_like(c)
        for u in range(3):
            raw = cell.weight_ih @ a[u] + cell.bias_ih + cell.weight_hh @ h[u] + cell.bias_hh
            i, f, g, o = raw.split(d)
            c_new[u] = torch.sigmoid(f) * c[u] + torch.sigmoid(i) * torch.tanh(g)
            h_new[u] = torch.sigmoid(o) * torch.tanh(c_new[u])
        h, c = h_new, c_new
        x = read_out(layer, x, h, 1)
    return x


def scale_cells(model, scale: float) -> None:
    """Multiply every cell's input and recurrent weights by `scale` (pre-activations x scale)."""
    with torch.no_grad():
        for layer in model.layers:
            for param in layer.cell.parameters():
                param.mul_(scale)


@pytest.mark.parametrize("gates", GATES, ids=str)
@pytest.mark.parametrize("scale", [1.0, 20.0])
def test_slstm_matches_hand_computation(gates, scale):
    """Two layers (the second reads the first's state) on a 3-node path, float64. At scale 20 the
    unstabilised gates reach e^{+-100} yet agree with the stabilised model."""
    torch.manual_seed(0)
    model = GraphSLSTM(4, 2, heads=2, hidden_dim=4, **gates).double()
    scale_cells(model, scale)
    batch = path_batch(4)
    with torch.no_grad():
        torch.testing.assert_close(
            model(batch.x, batch), slstm_by_hand(model, batch.x, gates), rtol=1e-9, atol=1e-9
        )


def test_lstm_matches_hand_computation():
    torch.manual_seed(0)
    model = GraphLSTM(4, 2, hidden_dim=6).double()
    batch = path_batch(4)
    with torch.no_grad():
        torch.testing.assert_close(
            model(batch.x, batch), lstm_by_hand(model, batch.x), rtol=1e-9, atol=1e-9
        )


@pytest.mark.parametrize("cls", [GraphSLSTM, GraphLSTM])
def test_shared_weights_are_one_layer_run_l_times(cls):
    """share_weights: one cell and read-out for all layers (the first application starts from no
    state); the output equals running that one layer L times by hand."""
    torch.manual_seed(0)
    model = cls(4, 3, share_weights=True, hidden_dim=4).double()
    single = cls(4, 3, hidden_dim=4).double()
    assert sum(p.numel() for p in model.parameters()) < sum(p.numel() for p in single.parameters())
    batch = path_batch(4)
    x, state = batch.x, None
    layer = model.layers[0]
    for _ in range(3):
        x, state = layer(x, PATH, state)
    torch.testing.assert_close(model(batch.x, batch), x)


def test_mean_aggregation_divides_by_the_in_degree():
    """With aggr=mean the cell input is [x_u; mean of the senders]: node 1 of the path has two."""
    torch.manual_seed(0)
    model = GraphLSTM(4, 1, aggr="mean").double()
    batch = path_batch(4)
    seen = []
    model.layers[0].cell.register_forward_hook(lambda m, args, out: seen.append(args[0]))
    model(batch.x, batch)
    x = batch.x
    expected = torch.cat([x, torch.stack([x[1], (x[0] + x[2]) / 2, x[1]])], dim=1)
    torch.testing.assert_close(seen[0], expected)


MODELS = {
    "slstm": lambda **kw: GraphSLSTM(8, 3, heads=2, **kw),
    "slstm_exp_forget": lambda **kw: GraphSLSTM(8, 3, heads=2, forget_gate="exp", **kw),
    "lstm": lambda **kw: GraphLSTM(8, 3, **kw),
}


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("scale", [100.0, 1e4])
def test_large_preactivations_are_finite(name, scale):
    """float32, pre-activations x 100 and x 1e4: the output and every gradient stay finite."""
    torch.manual_seed(0)
    model = MODELS[name]()
    scale_cells(model, scale)
    batch = graph_case("nar", 8)
    x = batch.x.clone().requires_grad_(True)
    out = model(x, batch)
    (out * torch.randn_like(out)).sum().backward()
    assert torch.isfinite(out).all() and torch.isfinite(x.grad).all()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("khop", [False, True])
def test_permutation_equivariance(name, khop):
    torch.manual_seed(0)
    model = MODELS[name](khop=khop).eval()
    batch = graph_case("random", 8, seed=5)
    perm = torch.randperm(batch.num_nodes)  # new node i is old node perm[i]
    inverse = torch.empty_like(perm)
    inverse[perm] = torch.arange(batch.num_nodes)
    permuted = Batch(x=batch.x[perm], edge_index=inverse[batch.edge_index], batch=batch.batch)
    permuted.hop_index = [inverse[h] for h in batch.hop_index]
    with torch.no_grad():
        out, out_permuted = model(batch.x, batch), model(batch.x[perm], permuted)
    torch.testing.assert_close(out_permuted, out[perm], rtol=1e-5, atol=1e-5)


def test_state_floats():
    assert GraphSLSTM(8, 2, hidden_dim=16).state_floats == 64  # h, c, n, m
    assert GraphLSTM(8, 2, hidden_dim=32).state_floats == 64  # h, c
    assert GLSTM(16, 2, heads=1, memory_dim=8).state_floats == 8 * 8 + 8 + 1  # C, n, m


@pytest.mark.parametrize(
    "kwargs, key",
    [
        ({"forget_gate": "tanh"}, "^forget_gate:"),
        ({"input_gate": "relu"}, "^input_gate:"),
        ({"hidden_dim": 10, "heads": 4}, "^hidden_dim:"),
        ({"aggr": "max"}, "^aggr:"),
        ({"dropout": 1.0}, "^dropout:"),
        ({"khop": "yes"}, "^khop:"),
    ],
)
def test_bad_options_name_the_key(kwargs, key):
    with pytest.raises(ConfigError, match=key):
        GraphSLSTM(8, 2, **kwargs)


@pytest.mark.parametrize("name, cls", [("slstm", GraphSLSTM), ("lstm", GraphLSTM)])
def test_config_builds_the_default_model(name, cls):
    with initialize_config_dir(config_dir=str(CONF / "model"), version_base="1.3"):
        cfg = compose(config_name=name)
    torch.manual_seed(0)
    model = instantiate(cfg, num_layers=2)
    torch.manual_seed(0)
    assert repr(model) == repr(cls(64, 2))
