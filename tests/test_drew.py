"""DRew-GCN (baselines/drew.py): the rewiring per layer, the delay, and equivariance, checked
against a dense hand computation on small graphs."""

from types import SimpleNamespace

import pytest
import torch

from baselines import GCN, DRewGCN
from benchmarks.core.errors import ConfigError

DIM = 4


def hop_sets(edge_index: torch.Tensor, num_nodes: int, num_hops: int) -> list[torch.Tensor]:
    """[2, E_k] the (sender, receiver) pairs at shortest-path distance exactly k = 1..num_hops."""
    adjacency = torch.zeros(num_nodes, num_nodes, dtype=torch.bool)
    adjacency[edge_index[0], edge_index[1]] = True
    reached = torch.eye(num_nodes, dtype=torch.bool)
    frontier, sets = reached.clone(), []
    for _ in range(num_hops):
        frontier = ((frontier.float() @ adjacency.float()) > 0) & ~reached
        reached |= frontier
        sets.append(frontier.nonzero().t().contiguous())
    return sets


def path_batch(num_nodes: int = 4, num_hops: int = 2) -> SimpleNamespace:
    """The path 0 - 1 - ... - n-1 (both directions), random inputs x [n, DIM]."""
    forward = torch.stack([torch.arange(num_nodes - 1), torch.arange(1, num_nodes)])
    edge_index = torch.cat([forward, forward.flip(0)], dim=1)
    return SimpleNamespace(
        x=torch.randn(num_nodes, DIM),
        edge_index=edge_index,
        hop_index=hop_sets(edge_index, num_nodes, num_hops),
    )


def normalised(edges: torch.Tensor, num_nodes: int, self_loops: bool) -> torch.Tensor:
    """Dense GCN operator [n, n]: D^{-1/2} (A (+ I)) D^{-1/2}, row = receiver."""
    a = torch.zeros(num_nodes, num_nodes)
    a[edges[1], edges[0]] = 1.0
    if self_loops:
        a += torch.eye(num_nodes)
    deg = a.sum(1)
    inv_sqrt = torch.where(deg > 0, deg.rsqrt(), torch.zeros_like(deg))
    return inv_sqrt[:, None] * a * inv_sqrt[None, :]


def apply(conv, operator: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return operator @ x @ conv.lin.weight.t() + conv.bias


def test_first_layer_is_a_residual_gcn_layer():
    torch.manual_seed(0)
    batch = path_batch()
    drew = DRewGCN(DIM, 1).eval()
    gcn = GCN(DIM, 1, residual=True, act="relu").eval()
    gcn.convs[0].load_state_dict(drew.convs[0][0].state_dict())
    torch.testing.assert_close(drew(batch.x, batch), gcn(batch.x, batch))


@pytest.mark.parametrize("nu", [1, None])
def test_two_layers_on_a_path_equal_the_hand_computation(nu):
    """Layer 2 adds the hop-2 pairs; with nu = 1 their message reads x^(0), without delay x^(1)."""
    torch.manual_seed(0)
    batch = path_batch()
    model = DRewGCN(DIM, 2, nu=nu).eval()
    a1 = normalised(batch.hop_index[0], 4, self_loops=True)
    a2 = normalised(batch.hop_index[1], 4, self_loops=False)
    assert a2[0, 2] > 0 and a2[0, 1] == 0  # node 0 hears node 2 directly at hop 2
    (c11,), (c21, c22) = model.convs
    x0 = batch.x
    x1 = x0 + torch.relu(apply(c11, a1, x0))
    hop2_input = x0 if nu == 1 else x1
    x2 = x1 + torch.relu(apply(c21, a1, x1) + apply(c22, a2, hop2_input))
    torch.testing.assert_close(model(x0, batch), x2)


def test_delay_changes_what_hop_two_reads():
    torch.manual_seed(0)
    batch = path_batch()
    delayed = DRewGCN(DIM, 2, nu=1).eval()
    undelayed = DRewGCN(DIM, 2, nu=None).eval()
    undelayed.load_state_dict(delayed.state_dict())
    assert not torch.allclose(delayed(batch.x, batch), undelayed(batch.x, batch))
    assert delayed.delay(1) == 0 and delayed.delay(3) == 2 and undelayed.delay(3) == 0
    assert DRewGCN(DIM, 3, nu=2).delay(3) == 1


@pytest.mark.parametrize("nu, reach", [(1, 3), (2, 5), (None, 6)])
def test_reach_of_three_layers_on_a_path(nu, reach):
    """Node 0 of a path: L = 3 layers reach 3 hops with nu = 1 and 1 + 2 + 3 without delay. With
    nu = 2, layer 2 reads hops 1-2 from x^(1) (1 hop): 3; layer 3 reads hop 2 from x^(2): 5."""
    torch.manual_seed(0)
    batch = path_batch(num_nodes=9, num_hops=3)
    model = DRewGCN(DIM, 3, nu=nu).eval()
    x = batch.x.clone().requires_grad_(True)
    model(x, batch)[0].sum().backward()
    felt = x.grad.abs().sum(1) > 0
    assert felt[: reach + 1].all() and not felt[reach + 1 :].any()


def test_permutation_equivariance():
    torch.manual_seed(0)
    n = 7
    edges = torch.tensor([[0, 1, 1, 2, 3, 4, 5, 2], [1, 2, 3, 4, 5, 6, 6, 0]])
    edge_index = torch.cat([edges, edges.flip(0)], dim=1)
    batch = SimpleNamespace(edge_index=edge_index, hop_index=hop_sets(edge_index, n, 3))
    x = torch.randn(n, DIM)
    model = DRewGCN(DIM, 3, nu=1).eval()
    perm = torch.randperm(n)
    new_of_old = torch.empty_like(perm)
    new_of_old[perm] = torch.arange(n)  # node perm[i] becomes node i
    permuted = SimpleNamespace(
        edge_index=new_of_old[edge_index], hop_index=[new_of_old[e] for e in batch.hop_index]
    )
    torch.testing.assert_close(model(x[perm], permuted), model(x, batch)[perm])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"nu": 0}, "^nu: must be a positive integer or null"),
        ({"nu": True}, "^nu: must be a positive integer or null"),
        ({"khop": True}, "^khop: DRew adds the pairs"),
        ({"norm": "group"}, "^norm: must be one of"),
    ],
)
def test_bad_options_are_clear_errors(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        DRewGCN(DIM, 2, **kwargs)


def test_too_few_hop_sets_is_a_clear_error():
    batch = path_batch(num_hops=1)
    with pytest.raises(ConfigError, match="DRew layer 2 needs pairs at distance 2"):
        DRewGCN(DIM, 2)(batch.x, batch)


# The authors' block (block=code): BenGutteridge/DRew @0c5c1ca, drew_gnn.py 50-52, example.py.


def l2(v: torch.Tensor) -> torch.Tensor:
    return v / v.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def test_code_block_one_layer_by_hand():
    """Edge 0 - 1, x = I, W = I, no bias, norm none: GCN with self-loops gives 0.5 (x_0 + x_1) =
    (0.5, 0.5) at both nodes; ReLU keeps it; L2 gives (1, 1) / sqrt 2; the layer output is
    L2(x + ReLU(.)) = L2(1 + 1/sqrt 2, 1/sqrt 2) = (cos 22.5 deg, sin 22.5 deg) at node 0."""
    edge_index = torch.tensor([[0, 1], [1, 0]])
    batch = SimpleNamespace(edge_index=edge_index, hop_index=[edge_index])
    model = DRewGCN(2, 1, block="code", act="relu", norm="none").eval()
    conv = model.convs[0][0]
    with torch.no_grad():
        conv.lin.weight.copy_(torch.eye(2))
        conv.bias.zero_()
    out = model(torch.eye(2), batch)
    c, s = 0.9238795325112867, 0.3826834323650898
    torch.testing.assert_close(out, torch.tensor([[c, s], [s, c]]))


@pytest.mark.parametrize("nu", [1, None])
def test_code_block_two_layers_equal_the_step_by_step_reference(nu):
    """Path 0-1-2-3, BatchNorm (eval, running statistics set), ReLU: every hop with self-loops,
    no bias, Norm -> Act -> L2 per hop, then L2(x + ReLU(sum))."""
    torch.manual_seed(0)
    batch = path_batch()
    model = DRewGCN(DIM, 2, nu=nu, block="code", norm="batch", act="relu").eval()
    assert all(conv.bias is None for layer in model.convs for conv in layer)
    for layer in model.hop_norms:
        for bn in layer:
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 2.0)
            bn.weight.data.uniform_(0.5, 1.5)
            bn.bias.data.uniform_(-0.5, 0.5)
    a1 = normalised(batch.hop_index[0], 4, self_loops=True)
    a2 = normalised(batch.hop_index[1], 4, self_loops=True)

    def hop(conv, bn, operator, x):
        h = operator @ x @ conv.lin.weight.t()
        h = (h - bn.running_mean) / (bn.running_var + bn.eps).sqrt() * bn.weight + bn.bias
        return l2(torch.relu(h))

    (c11,), (c21, c22) = model.convs
    (n11,), (n21, n22) = model.hop_norms
    x0 = batch.x
    x1 = l2(x0 + torch.relu(hop(c11, n11, a1, x0)))
    hop2_input = x0 if nu == 1 else x1
    x2 = l2(x1 + torch.relu(hop(c21, n21, a1, x1) + hop(c22, n22, a2, hop2_input)))
    torch.testing.assert_close(model(x0, batch), x2)


def test_code_block_skips_an_empty_hop_set():
    """One edge, two layers: hop 2 has no pairs; with self-loops it would still add W x, so the
    output equals a model whose layer 2 has only hop 1."""
    torch.manual_seed(0)
    edge_index = torch.tensor([[0, 1], [1, 0]])
    empty = torch.empty(2, 0, dtype=torch.long)
    batch = SimpleNamespace(edge_index=edge_index, hop_index=[edge_index, empty])
    model = DRewGCN(DIM, 2, block="code").eval()
    x = torch.randn(2, DIM)
    a1 = normalised(edge_index, 2, self_loops=True)
    (c11,), (c21, _) = model.convs
    x1 = l2(x + torch.relu(l2(torch.relu(apply(c11, a1, x)))))
    x2 = l2(x1 + torch.relu(l2(torch.relu(apply(c21, a1, x1)))))
    torch.testing.assert_close(model(x, batch), x2)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"block": "paper"}, "^block: must be one of"),
        ({"block": "code", "residual": False}, "^residual: must be true with block=code"),
        ({"block": "code", "norm": "layer"}, "^norm: must be none or batch with block=code"),
    ],
)
def test_code_block_bad_options(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        DRewGCN(DIM, 2, **kwargs)
