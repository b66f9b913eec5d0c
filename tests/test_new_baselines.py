"""GraphSAGE, GCNII, A-DGN, GINE and GatedGCN: each is the PyG layer (or the paper's update) it
claims, reads edge features where it should, sees exactly its receptive field, and every new config
composes and trains."""

import math

import pytest
import torch
from torch import nn
from torch_geometric.nn import AntiSymmetricConv, GCN2Conv, GCNConv, GINConv, GINEConv, SAGEConv

from baselines import ADGN, GCNII, GIN, GINE, GatedGCN, GatedGCNLayer, GraphSAGE
from benchmarks.engine.runner import prepare
from tests.helpers import CONF, TINY_TASKS, compose_config
from tests.test_baselines import DIM, dependencies, one_layer, tree_batch

NEW_MODELS = ["sage", "gcnii", "adgn", "gine", "gatedgcn"]
# The published presets and the task each one is for (Peptides presets: tests/test_peptides.py).
PRESET_TASK = {"swan": "graph_transfer", "adgn_paper": "gpp"}
PRESETS = {
    str(path.relative_to(CONF / "model").with_suffix("")): task
    for group, task in PRESET_TASK.items()
    for path in sorted((CONF / "model" / group).glob("*.yaml"))
} | {"glstm_paper/glstm_gpp": "gpp"}

MODEL_CLASSES = {
    "sage": lambda **kw: GraphSAGE(DIM, **kw),
    "gcnii": lambda **kw: GCNII(DIM, **kw),
    "adgn": lambda **kw: ADGN(DIM, **kw),
    "gine": lambda **kw: GINE(DIM, **kw),
    "gatedgcn": lambda **kw: GatedGCN(DIM, **kw),
}


def with_edge_embedding(batch, seed: int = 1):
    """The batch with random encoded edge features [E, DIM], as the Network sets them."""
    batch.edge_embedding = torch.randn(
        batch.edge_index.size(1), DIM, generator=torch.Generator().manual_seed(seed)
    )
    return batch


def chain(references, x, step):
    """Apply `step(reference, x)` for each fresh PyG layer in turn."""
    for reference in references:
        x = step(reference, x)
    return x


# -- each model is the PyG layer it claims ---------------------------------------------------------


def test_sage_layers_are_pyg_sage_conv():
    torch.manual_seed(0)
    batch = tree_batch()
    model = GraphSAGE(DIM, 2, act="none").eval()
    references = []
    for conv in model.convs:
        references.append(SAGEConv(DIM, DIM))
        references[-1].load_state_dict(conv.state_dict())
    expected = chain(references, batch.x, lambda conv, x: conv(x, batch.edge_index))
    torch.testing.assert_close(model(batch.x, batch), expected)


@pytest.mark.parametrize("theta", [0.5, None])
def test_gcnii_layers_are_pyg_gcn2_conv_with_x0_and_layer_index(theta):
    torch.manual_seed(0)
    batch = tree_batch()
    model = GCNII(DIM, 3, alpha=0.2, theta=theta, act="none").eval()
    x_0 = batch.x
    references = []
    for layer, conv in enumerate(model.convs, start=1):
        references.append(GCN2Conv(DIM, 0.2, theta, layer=None if theta is None else layer))
        references[-1].load_state_dict(conv.state_dict())
        expected_beta = 1.0 if theta is None else math.log(theta / layer + 1)
        assert conv.beta == pytest.approx(expected_beta)
    expected = chain(references, batch.x, lambda conv, x: conv(x, x_0, batch.edge_index))
    torch.testing.assert_close(model(batch.x, batch), expected)


def test_gcnii_shared_weights_tie_w_but_keep_each_layers_beta():
    model = GCNII(DIM, 3, share_weights=True)
    assert all(conv.weight1 is model.convs[0].weight1 for conv in model.convs)
    assert sum(p.numel() for p in model.parameters()) == DIM * DIM
    assert len({conv.beta for conv in model.convs}) == 3


@pytest.mark.parametrize("phi", ["gcn", "sum"])
def test_adgn_layers_are_pyg_antisymmetric_conv(phi):
    torch.manual_seed(0)
    batch = tree_batch()
    model = ADGN(DIM, 2, epsilon=0.3, gamma=0.2, phi=phi, share_weights=False).eval()
    references = []
    for conv in model.convs:
        inner = (
            GCNConv(DIM, DIM, bias=False)
            if phi == "gcn"
            else GCNConv(DIM, DIM, bias=False, normalize=False, add_self_loops=False)
        )
        references.append(AntiSymmetricConv(DIM, phi=inner, epsilon=0.3, gamma=0.2))
        references[-1].load_state_dict(conv.state_dict())
    expected = chain(references, batch.x, lambda conv, x: conv(x, batch.edge_index))
    torch.testing.assert_close(model(batch.x, batch), expected)


def test_adgn_sum_phi_is_the_papers_sum_over_neighbours():
    torch.manual_seed(0)
    batch = tree_batch()
    phi = ADGN(DIM, 1, phi="sum").convs[0].phi
    src, dst = batch.edge_index
    by_hand = torch.zeros_like(batch.x).index_add_(0, dst, batch.x[src] @ phi.lin.weight.T)
    torch.testing.assert_close(phi(batch.x, batch.edge_index), by_hand)


def test_adgn_shares_weights_by_default_like_pyg_num_iters():
    """A-DGN's default: L layers are L steps of one AntiSymmetricConv (PyG's num_iters = L)."""
    torch.manual_seed(0)
    batch = tree_batch()
    model = ADGN(DIM, 3).eval()
    assert all(conv is model.convs[0] for conv in model.convs)
    reference = AntiSymmetricConv(DIM, num_iters=3)
    reference.load_state_dict(model.convs[0].state_dict())
    torch.testing.assert_close(model(batch.x, batch), reference(batch.x, batch.edge_index))


def test_gine_layers_are_pyg_gine_conv_with_edge_embedding():
    torch.manual_seed(0)
    batch = with_edge_embedding(tree_batch())
    model = GINE(DIM, 2, act="none", mlp_act="relu").eval()
    references = []
    for conv in model.convs:
        mlp = nn.Sequential(
            nn.Linear(DIM, DIM),
            nn.BatchNorm1d(DIM),
            nn.ReLU(),
            nn.Dropout(0.0),
            nn.Linear(DIM, DIM),
            nn.BatchNorm1d(DIM),
        )
        references.append(GINEConv(mlp).eval())
        references[-1].load_state_dict(conv.state_dict())
    expected = chain(
        references, batch.x, lambda conv, x: conv(x, batch.edge_index, batch.edge_embedding)
    )
    torch.testing.assert_close(model(batch.x, batch), expected)


def test_gatedgcn_layer_equals_hand_computation_on_three_nodes():
    """Edges 0->1, 2->1, 1->0 (node 2 receives nothing); train-mode BatchNorm by hand."""
    torch.manual_seed(0)
    d = 4
    x, e = torch.randn(3, d), torch.randn(3, d)
    edge_index = torch.tensor([[0, 2, 1], [1, 1, 0]])
    layer = GatedGCNLayer(d).train()
    with torch.no_grad():  # non-trivial BatchNorm affine parameters
        for norm in (layer.node_norm, layer.edge_norm):
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.uniform_(-0.5, 0.5)
    new_x, new_e = layer(x, edge_index, e)

    def batch_norm(h, norm):
        mean, var = h.mean(0), h.var(0, unbiased=False)
        return (h - mean) / torch.sqrt(var + norm.eps) * norm.weight + norm.bias

    lin = {
        name: (lambda m: lambda h: h @ m.weight.T + m.bias)(getattr(layer, name))
        for name in ("gate_receiver", "gate_sender", "gate_edge", "lin_self", "lin_neighbour")
    }
    A, B, C = lin["gate_receiver"], lin["gate_sender"], lin["gate_edge"]
    U, V = lin["lin_self"], lin["lin_neighbour"]
    gate_input = torch.stack(
        [A(x[u]) + B(x[v]) + C(e[k]) for k, (v, u) in enumerate(edge_index.t().tolist())]
    )
    sigma = torch.sigmoid(gate_input)
    h = torch.stack([U(x[u]) for u in range(3)])
    h[1] = h[1] + (sigma[0] * V(x[0]) + sigma[1] * V(x[2])) / (sigma[0] + sigma[1] + 1e-6)
    h[0] = h[0] + sigma[2] * V(x[1]) / (sigma[2] + 1e-6)
    expected_x = x + torch.relu(batch_norm(h, layer.node_norm))
    expected_e = e + torch.relu(batch_norm(gate_input, layer.edge_norm))
    torch.testing.assert_close(new_x, expected_x)
    torch.testing.assert_close(new_e, expected_e)


def test_gatedgcn_carries_edge_states_from_layer_to_layer():
    torch.manual_seed(0)
    batch = with_edge_embedding(tree_batch())
    model = GatedGCN(DIM, 3).eval()
    seen = []
    for conv in model.convs:
        conv.register_forward_hook(lambda _, args, out: seen.append((args[2], out[1])))
    model(batch.x, batch)
    assert seen[0][0] is batch.edge_embedding
    assert seen[1][0] is seen[0][1] and seen[2][0] is seen[1][1]
    assert model.convs[-1].edge_norm is None  # the last layer's edge states would go unused


# -- edge features -----------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["gine", "gatedgcn"])
def test_edge_embedding_changes_the_output_and_is_optional(model):
    torch.manual_seed(0)
    net = MODEL_CLASSES[model](num_layers=2).eval()
    batch = tree_batch()
    without = net(batch.x, batch)
    batch.edge_embedding = torch.zeros(batch.edge_index.size(1), DIM)
    torch.testing.assert_close(net(batch.x, batch), without)  # missing = zeros
    with_features = net(batch.x, with_edge_embedding(batch, seed=1))
    assert not torch.allclose(with_features, without)
    assert not torch.allclose(net(batch.x, with_edge_embedding(batch, seed=2)), with_features)


@pytest.mark.parametrize("model", ["gine", "gatedgcn"])
@pytest.mark.parametrize("option", ["khop", "last_layer_fa"])
def test_edge_embedding_is_unused_where_the_layer_aggregates_other_pairs(model, option):
    """k-hop: every layer aggregates a hop set, so the output ignores the edge features. FA with
    one layer: its only layer aggregates the FA pairs."""
    torch.manual_seed(0)
    net = MODEL_CLASSES[model](num_layers=1, **{option: True}).eval()
    batch = tree_batch()
    without = net(batch.x, batch)
    torch.testing.assert_close(net(batch.x, with_edge_embedding(batch)), without)


def test_wrong_edge_embedding_shape_is_one_clear_error():
    batch = tree_batch()
    batch.edge_embedding = torch.zeros(batch.edge_index.size(1), DIM + 1)
    with pytest.raises(ValueError, match="^dim: edge features of shape"):
        GINE(DIM, 1)(batch.x, batch)


# -- receptive field ---------------------------------------------------------------------------


@pytest.mark.parametrize("model", MODEL_CLASSES)
@pytest.mark.parametrize("khop", [False, True])
def test_output_depends_exactly_on_nodes_within_reach(model, khop):
    """Two layers: node u's output depends on v iff v reaches u through the layers' pairs (each
    layer also keeps the node itself): one_layer(E_2) @ one_layer(E_1)."""
    torch.manual_seed(0)
    batch = with_edge_embedding(tree_batch())
    n = batch.num_nodes
    dep = dependencies(MODEL_CLASSES[model](num_layers=2, khop=khop), batch)
    edges = batch.hop_index if khop else [batch.edge_index] * 2
    first, second = (one_layer(e, n).float() for e in edges)
    assert torch.equal(dep, (second @ first) > 0)


# -- configs -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NEW_MODELS + sorted(PRESETS))
def test_config_composes_and_builds(name):
    task = PRESETS.get(name, "nar")
    cfg = compose_config([f"model={name}", f"task={task}", *TINY_TASKS[task]])
    assert cfg.model._target_.startswith(("baselines.", "glstm."))
    prepare(cfg)


@pytest.mark.parametrize(
    "name, expected",
    [
        ("swan/adgn", {"share_weights": True, "act": "none", "conv_act": "tanh", "dim": 64}),
        ("swan/gat", {"heads": 1, "act": "tanh"}),
        ("adgn_paper/adgn", {"share_weights": False, "num_layers": 20, "dim": 30}),
        ("adgn_paper/gcnii", {"theta": None, "alpha": 0.1, "act": "tanh"}),
        ("tonshoff/gine", {"num_layers": 8, "act": "none", "mlp_act": "gelu", "dim": 64}),
        ("tonshoff/gine task.name=struct", {"num_layers": 10, "mlp_dropout": 0.1}),
        ("tonshoff/gatedgcn task.name=struct", {"num_layers": 8, "act": "relu", "dropout": 0.1}),
        ("glstm_paper/glstm_gpp", {"dim": 20, "num_layers": 10, "heads": 4, "memory_dim": 8}),
        ("glstm_paper/glstm_gpp task.target=sssp", {"dim": 10, "heads": 1, "act": "tanh"}),
        ("glstm_paper/glstm_gpp task.target=diameter", {"num_layers": 20, "memory_dim": 16}),
        ("glstm_paper/glstm_peptides", {"num_layers": 27, "heads": 2, "khop": True, "dim": 64}),
        ("glstm_paper/glstm_peptides task.name=struct", {"num_layers": 23, "heads": 5}),
    ],
)
def test_presets_override_their_base(name, expected):
    model_name, *task = name.split()
    peptides = model_name.startswith(("tonshoff", "glstm_paper/glstm_pep"))
    group = "task=gpp" if "gpp" in model_name else "task=peptides" if peptides else None
    overrides = [f"model={model_name}", *([group] if group else []), *task]
    model = compose_config(overrides).model
    assert {key: model[key] for key in expected} == expected


def train_one_step(task: str, model: str, *overrides: str) -> None:
    cfg = compose_config([f"task={task}", f"model={model}", *TINY_TASKS[task], *overrides])
    task_obj, net, num_layers, _ = prepare(cfg)
    data = task_obj.generate(0)
    data["train"].num_hops = max(num_layers, 4)
    batch = data["train"].batch(torch.arange(min(8, len(data["train"]))))
    before = [p.detach().clone() for p in net.parameters()]
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    net.train()
    loss = task_obj.loss(net(batch), batch)
    loss.backward()
    optimizer.step()
    assert math.isfinite(loss.item())
    after = list(net.parameters())
    assert all(torch.isfinite(p).all() for p in after)
    assert any(not torch.equal(b, a) for b, a in zip(before, after, strict=True))


@pytest.mark.parametrize("model", sorted(PRESETS))
def test_preset_trains_one_step(model):
    train_one_step(PRESETS[model], model, "model.num_layers=3")


def test_gin_with_one_mlp_layer_is_gin_conv_of_a_linear():
    """swan/gin and adgn_paper/gin: GINConv(Linear(d, d), train_eps=True), as those codes ran it."""
    torch.manual_seed(0)
    batch = tree_batch()
    model = GIN(DIM, 1, mlp_layers=1, train_eps=True, act="none").eval()
    conv = model.convs[0]
    assert isinstance(conv.nn, nn.Linear) and conv.eps.requires_grad
    reference = GINConv(nn.Linear(DIM, DIM), train_eps=True).eval()
    reference.load_state_dict(conv.state_dict())
    expected = reference(batch.x, batch.edge_index)
    assert torch.allclose(model(batch.x, batch), expected, atol=1e-6)
    cfg = compose_config(["model=swan/gin", "task=graph_transfer"])
    assert cfg.model.mlp_layers == 1


def test_adgn_torch_init_is_the_codes():
    """init=torch (gravins/Anti-SymmetricDGN): Phi's Linear (phi=sum) as torch's nn.Linear,
    kaiming_uniform(a = sqrt 5), i.e. uniform in +-1/sqrt(d), and the bias uniform in
    +-1/sqrt(d) = +-1/8 at d = 64 (PyG's: Glorot and a zero bias)."""
    from baselines import ADGN

    torch.manual_seed(0)
    paper = ADGN(64, 2, phi="sum", init="torch")
    conv = paper.convs[0]
    bound = 1 / 8
    assert conv.bias.abs().max() <= bound and conv.bias.abs().max() > 0.9 * bound
    weight = conv.phi.lin.weight
    assert weight.abs().max() <= bound and weight.abs().max() > 0.9 * bound
    torch.manual_seed(1)
    paper.reset_parameters()
    assert conv.bias.abs().max() > 0 and conv.bias.abs().max() <= bound
    ours = ADGN(64, 2, phi="sum")
    assert torch.all(ours.convs[0].bias == 0)
    assert ours.convs[0].phi.lin.weight.abs().max() > bound  # Glorot: +-sqrt(6 / 128) = 0.217
