"""GCN-SSM / kGCN-SSM (baselines/gnn_ssm.py): the recursion against a dense hand computation on a
path graph, the state matrix at init, the layer Jacobian, fixed matrices, bad options, and
equivariance under node permutation."""

from types import SimpleNamespace

import pytest
import torch

from baselines import GCN, GCNSSM
from benchmarks.core.errors import ConfigError

DIM = 4


def path_batch(num_nodes: int = 4, num_hops: int = 3) -> SimpleNamespace:
    """The path 0 - 1 - ... - n-1 (both directions), its pairs at distance exactly k = 1..num_hops
    (`hop_index[k - 1]`, [2, E_k]), random float64 inputs x [n, DIM]."""
    nodes = torch.arange(num_nodes)
    distance = (nodes[:, None] - nodes[None, :]).abs()
    hop_index = [(distance == k).nonzero().t().contiguous() for k in range(1, num_hops + 1)]
    return SimpleNamespace(
        x=torch.randn(num_nodes, DIM, dtype=torch.float64),
        edge_index=hop_index[0],
        hop_index=hop_index,
    )


def gcn_operator(edges: torch.Tensor, num_nodes: int) -> torch.Tensor:
    """Dense D^{-1/2} (A + I) D^{-1/2} [n, n] (row = receiver), GCN's normalisation."""
    a = torch.eye(num_nodes, dtype=torch.float64)
    a[edges[1], edges[0]] = 1.0
    inv_sqrt = a.sum(1).rsqrt()
    return inv_sqrt[:, None] * a * inv_sqrt[None, :]


@pytest.mark.parametrize("khop", [False, True])
def test_two_layers_on_a_path_equal_the_hand_computation(khop):
    """h^(l) = Lambda h^(l-1) + B relu(GCNConv_l(H^(l-1), E_l)), with a random Lambda so that
    the state path is not the identity; with k-hop, layer 2 reads the distance-2 pairs."""
    torch.manual_seed(0)
    batch = path_batch()
    model = GCNSSM(DIM, 2, state_eigenvalue=None, khop=khop).double().eval()
    lam, b = model.state_matrix, model.input_matrix
    h = batch.x
    for layer, conv in enumerate(model.convs, start=1):
        edges = batch.hop_index[layer - 1] if khop else batch.edge_index
        message = gcn_operator(edges, 4) @ h @ conv.lin.weight.t() + conv.bias
        h = h @ lam.t() + torch.relu(message) @ b.t()
    if khop:
        assert gcn_operator(batch.hop_index[1], 4)[0, 2] > 0  # node 0 hears node 2 at layer 2
    torch.testing.assert_close(model(batch.x, batch), h)


def test_state_matrix_at_init_has_the_chosen_eigenvalues():
    torch.manual_seed(0)
    assert torch.equal(GCNSSM(DIM, 2).state_matrix, torch.eye(DIM))  # published: eig = 1
    eigenvalues = torch.linalg.eigvals(GCNSSM(DIM, 2, state_eigenvalue=0.9).state_matrix)
    torch.testing.assert_close(eigenvalues, torch.full((DIM,), 0.9 + 0j))
    identity = GCNSSM(DIM, 2, input_eigenvalue=1.0).input_matrix
    assert torch.equal(identity, torch.eye(DIM))
    random_b = GCNSSM(DIM, 2).input_matrix
    assert random_b.abs().max() <= DIM**-0.5 and not torch.equal(random_b, torch.eye(DIM))


def test_layer_jacobian_is_the_identity_when_the_gcn_term_vanishes():
    """Lambda = I and F = 0: d H^(l) / d H^(l-1) = I, for every node and channel."""
    batch = path_batch()
    model = GCNSSM(DIM, 1).double()
    with torch.no_grad():
        model.convs[0].lin.weight.zero_()
        model.convs[0].bias.zero_()
    jacobian = torch.autograd.functional.jacobian(lambda x: model(x, batch), batch.x)
    eye = torch.eye(4 * DIM, dtype=torch.float64).reshape(4, DIM, 4, DIM)
    torch.testing.assert_close(jacobian, eye)


def num_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_fixed_matrices_add_no_parameters_and_do_not_train():
    """Fixed Lambda and B are buffers: the model has exactly GCN's parameters; train_state
    makes Lambda a parameter that receives a gradient."""
    batch = path_batch()
    ssm = GCNSSM(DIM, 3)
    gcn = GCN(DIM, 3)
    assert num_parameters(ssm) == num_parameters(gcn)
    assert {"state_matrix", "input_matrix"} <= set(ssm.state_dict())
    trained = GCNSSM(DIM, 3, train_state=True).double()
    trained(batch.x, batch).sum().backward()
    assert num_parameters(trained) == num_parameters(gcn) + DIM * DIM
    assert trained.state_matrix.grad is not None


def test_reset_draws_b_again_and_keeps_the_chosen_lambda():
    model = GCNSSM(DIM, 3, state_eigenvalue=0.5)
    before = model.input_matrix.clone()
    model.reset_parameters()
    assert torch.equal(model.state_matrix, 0.5 * torch.eye(DIM))
    assert not torch.equal(model.input_matrix, before)


@pytest.mark.parametrize(
    "options, key",
    [
        ({"state_eigenvalue": "one"}, "^state_eigenvalue:"),
        ({"input_eigenvalue": float("nan")}, "^input_eigenvalue:"),
        ({"state_eigenvalue": True}, "^state_eigenvalue:"),
        ({"train_state": "yes"}, "^train_state:"),
        ({"train_input": 1}, "^train_input:"),
        ({"khop": "true"}, "^khop:"),
        ({"norm": "group"}, "^norm:"),
        ({"act": "nope"}, "^act:"),
        ({"dropout": 1.5}, "^dropout:"),
    ],
)
def test_bad_options_name_their_key(options, key):
    with pytest.raises(ConfigError, match=key):
        GCNSSM(DIM, 2, **options)


def test_too_few_hop_sets_name_khop():
    batch = path_batch(num_hops=1)
    with pytest.raises(ConfigError, match="^khop:"):
        GCNSSM(DIM, 2, khop=True).double()(batch.x, batch)


@pytest.mark.parametrize("khop", [False, True])
def test_equivariant_under_node_permutation(khop):
    torch.manual_seed(0)
    batch = path_batch(num_nodes=5, num_hops=3)
    model = GCNSSM(DIM, 3, state_eigenvalue=None, khop=khop, norm="layer").double().eval()
    perm = torch.randperm(5)
    new_index = torch.empty_like(perm)
    new_index[perm] = torch.arange(5)  # old node perm[i] is new node i
    permuted = SimpleNamespace(
        x=batch.x[perm],
        edge_index=new_index[batch.edge_index],
        hop_index=[new_index[pairs] for pairs in batch.hop_index],
    )
    torch.testing.assert_close(model(permuted.x, permuted), model(batch.x, batch)[perm])
