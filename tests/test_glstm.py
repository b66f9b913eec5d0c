"""gLSTM: the two forms agree; closed-form recall; equivariance; locality; stability; config."""

from __future__ import annotations

import copy
import itertools
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import shortest_path
from torch_geometric.data import Batch

from benchmarks.core.errors import ConfigError
from glstm import GLSTM, Adjacency
from glstm.memory import form_costs
from glstm.neighbourhoods import neighbourhood
from glstm.node_products import matvec, outer
from glstm.sparse import _torch_self_loops, sddmm, spmm

CONF_MODEL = Path(__file__).resolve().parents[1] / "conf" / "model"
pytestmark = pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta")


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny tensors: a second intra-op thread only adds synchronisation (10x slower when busy)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# -- graphs ----------------------------------------------------------------------------------------
def hop_sets(edge_index: torch.Tensor, num_nodes: int, max_hops: int) -> list[torch.Tensor]:
    """(sender, receiver) pairs at directed shortest-path distance exactly l, l = 1..max_hops."""
    src, dst = edge_index.numpy()
    adj = csr_matrix((np.ones(len(src)), (src, dst)), shape=(num_nodes, num_nodes))
    dist = shortest_path(adj, unweighted=True)  # dist[v, u]: path v -> u along the edges
    return [
        torch.from_numpy(np.argwhere(dist == hop).T.copy()).long() for hop in range(1, max_hops + 1)
    ]


def make_batch(graphs: list[torch.Tensor], sizes: list[int], dim: int, max_hops: int = 3) -> Batch:
    """A batch of graphs given as edge_index tensors, with hop_index and random features."""
    offsets = np.cumsum([0] + sizes)
    edge_index = torch.cat([e + int(o) for e, o in zip(graphs, offsets[:-1], strict=True)], dim=1)
    hops = [hop_sets(e, n, max_hops) for e, n in zip(graphs, sizes, strict=True)]
    hop_index = [
        torch.cat([h[hop] + int(o) for h, o in zip(hops, offsets[:-1], strict=True)], dim=1)
        for hop in range(max_hops)
    ]
    batch = Batch(
        x=torch.randn(int(offsets[-1]), dim),
        edge_index=edge_index,
        batch=torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes)),
        ptr=torch.from_numpy(offsets).long(),
    )
    batch.hop_index = hop_index
    return batch


def random_graph(num_nodes: int, num_edges: int, gen: torch.Generator) -> torch.Tensor:
    return torch.randint(0, num_nodes, (2, num_edges), generator=gen)


def nar_graph(num_keys: int) -> torch.Tensor:
    """Hub 0, relay 1, query 2, keys 3..N+2; hub-keys, hub-relay, relay-query, both directions."""
    keys = torch.arange(3, num_keys + 3)
    pairs = torch.cat(
        [torch.stack([torch.zeros_like(keys), keys]), torch.tensor([[0, 1], [1, 2]]).T], 1
    )
    return torch.cat([pairs, pairs.flip(0)], dim=1)


def tree_graph(depth: int) -> torch.Tensor:
    """Complete binary tree, edges child -> parent, plus a self-loop on every node."""
    n = 2 ** (depth + 1) - 1
    child = torch.arange(1, n)
    loops = torch.arange(n)
    return torch.cat([torch.stack([child, (child - 1) // 2]), torch.stack([loops, loops])], dim=1)


def graph_case(name: str, dim: int, seed: int = 0) -> Batch:
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    if name == "random":
        sizes = [9, 6]
        return make_batch([random_graph(n, 2 * n, gen) for n in sizes], sizes, dim)
    if name == "nar":
        return make_batch([nar_graph(4), nar_graph(4)], [7, 7], dim)
    if name == "tree":
        return make_batch([tree_graph(2)], [7], dim)
    raise ValueError(name)


VARIANTS = {
    "ego": {},
    "neighbour": {"input_gate": "neighbour"},
    "edge": {"input_gate": "edge"},
    "no_forget": {"forget_gate": False},
    "no_input": {"input_gating": False},
    "no_output": {"output_gate": False},
    "edge_no_input": {"input_gate": "edge", "input_gating": False},
    "clean": {"input_gate": "neighbour", "n_init": "zeros", "normaliser_abs": True},
}


def twin_models(dim: int, num_layers: int, **kwargs) -> tuple[GLSTM, GLSTM]:
    torch.manual_seed(1)
    recurrent = GLSTM(dim, num_layers, form="recurrent", **kwargs)
    parallel = copy.deepcopy(recurrent)
    parallel.form = "parallel"
    return recurrent, parallel


def run(model: GLSTM, x: torch.Tensor, batch: Batch, probe: torch.Tensor):
    x = x.clone().requires_grad_(True)
    out = model(x, batch)
    (out * probe).sum().backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters()}
    return out.detach(), x.grad, grads


def assert_close(actual, expected, what: str, tol: float = 1e-4):
    """rtol = tol, and atol = tol relative to the tensor's largest entry (at least 1).

    A gradient entry is a sum over many paths; its float32 rounding error scales with the
    magnitudes summed, not with the (possibly cancelled) result, so an elementwise rtol alone is
    not a meaningful criterion for small entries of a large gradient.
    """
    atol = tol * max(1.0, expected.abs().max().item())
    torch.testing.assert_close(actual, expected, rtol=tol, atol=atol, msg=lambda m: f"{what}: {m}")


def compare_forms(batch, dtype, tol, **kwargs):
    recurrent, parallel = twin_models(8, **kwargs)
    recurrent, parallel = recurrent.to(dtype), parallel.to(dtype)
    x = batch.x.to(dtype)
    probe = torch.randn(batch.num_nodes, 8, dtype=dtype) / batch.num_nodes
    out_r, gx_r, grads_r = run(recurrent, x, batch, probe)
    out_p, gx_p, grads_p = run(parallel, x, batch, probe)
    assert torch.isfinite(out_r).all()
    assert_close(out_p, out_r, "output", tol)
    assert_close(gx_p, gx_r, "input gradient", tol)
    for name in grads_r:
        assert_close(grads_p[name], grads_r[name], f"gradient of {name}", tol)


# -- the two forms agree ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "graph, khop, variant, blocks, shared",
    list(
        itertools.product(["random", "nar", "tree"], [False, True], VARIANTS, [1, 2], [False, True])
    ),
)
def test_recurrent_and_parallel_agree(graph, khop, variant, blocks, shared):
    """float32, 1e-4: outputs, input gradients and every parameter gradient."""
    compare_forms(
        graph_case(graph, 8),
        torch.float32,
        1e-4,
        num_layers=2,
        heads=2,
        memory_dim=4,
        value_dim=3,
        num_blocks=blocks,
        share_weights=shared,
        khop=khop,
        **VARIANTS[variant],
    )


@pytest.mark.parametrize(
    "graph, khop, variant",
    list(itertools.product(["random", "nar", "tree"], [False, True], VARIANTS)),
)
def test_forms_are_the_same_maths(graph, khop, variant):
    """float64, 1e-9, deeper (2 blocks of 3 layers): the forms differ only by rounding.

    (In float32 a 6-layer stack is only accurate to about 1e-4 in either form: GroupNorm divides by
    the spread of h, which the exponential gates can make tiny.)
    """
    compare_forms(
        graph_case(graph, 8),
        torch.float64,
        1e-9,
        num_layers=3,
        heads=2,
        memory_dim=4,
        value_dim=3,
        num_blocks=2,
        khop=khop,
        **VARIANTS[variant],
    )


@pytest.mark.parametrize("input_norm", ["layer", "rms", "batch"])
@pytest.mark.parametrize("act", ["gelu", "relu"])
def test_forms_agree_with_norms_and_activation(input_norm, act):
    batch = graph_case("random", 8, seed=3)
    recurrent, parallel = twin_models(8, 2, heads=2, memory_dim=4, input_norm=input_norm, act=act)
    probe = torch.randn(batch.num_nodes, 8) / batch.num_nodes
    out_r, gx_r, _ = run(recurrent, batch.x, batch, probe)
    out_p, gx_p, _ = run(parallel, batch.x, batch, probe)
    assert_close(out_p, out_r, "output")
    assert_close(gx_p, gx_r, "input gradient")


@pytest.mark.parametrize("variant", ["ego", "edge", "clean", "no_forget"])
def test_memory_states_agree(variant):
    """The parallel form's memory, materialised, is the recurrent form's C, n and m."""
    batch = graph_case("nar", 8)
    recurrent, parallel = twin_models(8, 2, heads=2, memory_dim=4, value_dim=3, **VARIANTS[variant])
    with torch.no_grad():
        _, (mem_r,) = recurrent.forward_with_memory(batch.x, batch)
        _, (mem_p,) = parallel.forward_with_memory(batch.x, batch)
    for a, b, name in zip(mem_r.state(), mem_p.state(), "Cnm", strict=True):
        assert_close(b, a, name)


# -- closed form -----------------------------------------------------------------------------------
@pytest.mark.parametrize("form", ["recurrent", "parallel"])
def test_associative_recall_closed_form(form):
    """Hub 0 and key node 1, gates off, orthogonal keys: the hub reads back the key node's value.

    Width 4 = [key one-hot (2) | value (2)], d_k = 4, d_v = 2. k = key one-hot (zero-padded),
    v = value, q_u = key one-hot of the sum of u's neighbours. Hub: C = v_1 e_1^T + v_0 e_2^T with
    v_0 = 0, n = e_1 + e_2 (n_init zeros), q = e_1, so C q / max(n . q, 1) = v_1 exactly, and the
    output projection adds it to the value half.
    """
    model = GLSTM(
        4,
        1,
        heads=1,
        memory_dim=4,
        value_dim=2,
        hidden_norm="none",
        forget_gate=False,
        input_gating=False,
        output_gate=False,
        n_init="zeros",
        form=form,
    )
    layer = model.blocks[0].layers[0]
    eye = torch.eye(4)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        w = layer.lin_node.weight  # rows: W_k (4), W_v (2), W_f (1), W_o (2), W_i (1)
        w[0:2] = 2 * eye[0:2]  # k = W_k x / sqrt(d_k) = [key one-hot, 0, 0]
        w[4:6] = eye[2:4]  # v = value
        layer.lin_q.weight[0:2, 4:6] = torch.eye(2)  # q = key part of the neighbour sum
        layer.lin_out.weight[2:4] = torch.eye(2)  # h -> value half
    hub, key = torch.tensor([0.0, 1.0, 0.0, 0.0]), torch.tensor([1.0, 0.0, 0.7, -1.3])
    x = torch.stack([hub, key])
    batch = Batch(
        x=x,
        edge_index=torch.tensor([[1, 0], [0, 1]]),
        batch=torch.zeros(2, dtype=torch.long),
        ptr=torch.tensor([0, 2]),
    )
    out, (memory,) = model.forward_with_memory(x, batch)
    assert torch.equal(out[0], hub + torch.tensor([0.0, 0.0, 0.7, -1.3]))
    c, n, _ = memory.state()
    assert torch.equal(c[0, 0], torch.tensor([[0.7, 0, 0, 0], [-1.3, 0, 0, 0]]))  # v_1 e_1^T
    assert torch.equal(n[0, 0], torch.tensor([1.0, 1, 0, 0]))


# -- symmetry and locality -------------------------------------------------------------------------
@pytest.mark.parametrize("form", ["recurrent", "parallel"])
@pytest.mark.parametrize("khop", [False, True])
@pytest.mark.parametrize("input_gate", ["ego", "edge"])
def test_permutation_equivariance(form, khop, input_gate):
    batch = graph_case("random", 8, seed=5)
    n = batch.num_nodes
    model = GLSTM(8, 3, heads=2, memory_dim=4, khop=khop, input_gate=input_gate, form=form)
    perm = torch.randperm(n)  # new node i is old node perm[i]
    inverse = torch.empty_like(perm)
    inverse[perm] = torch.arange(n)
    permuted = Batch(x=batch.x[perm], edge_index=inverse[batch.edge_index], batch=batch.batch)
    permuted.hop_index = [inverse[h] for h in batch.hop_index]
    with torch.no_grad():
        out = model(batch.x, batch)
        out_permuted = model(batch.x[perm], permuted)
    assert_close(out_permuted, out[perm], "permuted output")


@pytest.mark.parametrize("form", ["recurrent", "parallel"])
@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize("input_gate", ["neighbour", "edge", "ego"])
def test_no_dependence_beyond_num_layers(form, num_layers, input_gate):
    """d out_u / d x_v != 0 exactly when v is within L hops of u (along the edges).

    Except with the public code's ego gate: i_v = exp(i~_v - m_v) uses the sender's own
    stabiliser m_v, a max over v's own neighbourhood, so each layer also reaches one hop further
    through m (at most 2L hops in all).
    """
    gen = torch.Generator().manual_seed(7)
    n = 14
    edge_index = random_graph(n, 18, gen)
    batch = make_batch([edge_index], [n], 8, max_hops=n)
    dist = torch.from_numpy(
        shortest_path(
            csr_matrix((np.ones(edge_index.shape[1]), tuple(edge_index.numpy())), shape=(n, n)),
            unweighted=True,
        )
    )
    model = GLSTM(8, num_layers, heads=2, memory_dim=4, input_gate=input_gate, form=form)
    for u in range(n):
        x = batch.x.clone().requires_grad_(True)
        model(x, batch)[u].sum().backward()
        reaches = x.grad.abs().sum(-1) > 0
        if input_gate == "ego":
            assert not (reaches & (dist[:, u] > 2 * num_layers)).any(), f"node {u}"
            assert (reaches | (dist[:, u] > num_layers)).all(), f"node {u}"
        else:
            assert torch.equal(reaches, dist[:, u] <= num_layers), f"node {u}"


def test_ego_gate_stabiliser_reaches_two_hops():
    """The ego quirk in one layer: on the path 0 -> 1 -> 2, node 2 depends on node 0 through m_1."""
    batch = make_batch([torch.tensor([[0, 1], [1, 2]])], [3], 8)
    for input_gate, expected in [("ego", True), ("neighbour", False)]:
        model = GLSTM(8, 1, heads=1, memory_dim=4, input_gate=input_gate)
        x = batch.x.clone().requires_grad_(True)
        model(x, batch)[2].sum().backward()
        assert bool(x.grad[0].abs().sum() > 0) == expected, input_gate


# -- numerical safety and shapes -------------------------------------------------------------------
@pytest.mark.parametrize("variant", ["ego", "neighbour", "edge", "no_forget", "clean"])
@pytest.mark.parametrize("scale", [100.0, 1e4])
def test_large_preactivations_are_stable(variant, scale):
    batch = graph_case("nar", 8)
    recurrent, parallel = twin_models(8, 3, heads=2, memory_dim=4, **VARIANTS[variant])
    x = batch.x * scale
    probe = torch.randn(batch.num_nodes, 8)
    results = [run(model, x, batch, probe) for model in (recurrent, parallel)]
    for out, gx, grads in results:
        assert torch.isfinite(out).all() and torch.isfinite(gx).all()
        assert all(torch.isfinite(g).all() for g in grads.values())
    (out_r, gx_r, _), (out_p, gx_p, _) = results
    torch.testing.assert_close(out_p / scale, out_r / scale, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("form", ["recurrent", "parallel"])
def test_state_shapes(form):
    batch = graph_case("random", 8)
    model = GLSTM(8, 2, heads=3, memory_dim=5, value_dim=2, num_blocks=2, form=form)
    out, memories = model.forward_with_memory(batch.x, batch)
    n = batch.num_nodes
    assert out.shape == (n, 8) and len(memories) == 2
    c, nrm, m = memories[-1].state()
    assert c.shape == (n, 3, 2, 5) and nrm.shape == (n, 3, 5) and m.shape == (n, 3)


def test_exactly_one_self_loop_per_node():
    edge_index = torch.tensor([[0, 1, 1, 2, 2, 2], [1, 1, 0, 2, 2, 0]])
    expected = [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (2, 2), (3, 3)]

    def pairs(row, col):
        assert bool((row[1:] >= row[:-1]).all())  # receiver-major
        return sorted(zip(row.tolist(), col.tolist(), strict=True))

    adj = Adjacency.with_self_loops(edge_index, 4)
    assert pairs(adj.row, adj.col) == expected
    sorted_input = edge_index[:, edge_index[1].argsort()]  # the merge path (no sort)
    adj_sorted = Adjacency.with_self_loops(sorted_input, 4)
    assert pairs(adj_sorted.row, adj_sorted.col) == expected
    assert pairs(*_torch_self_loops(edge_index[0], edge_index[1], 4)) == expected  # accelerators
    crow, col_t, perm = adj._transpose()
    assert torch.equal(crow, torch.tensor([0, 2, 4, 6, 7]))  # sender-major
    assert torch.equal(adj.row[perm], col_t)
    assert bool((adj.col[perm][1:] >= adj.col[perm][:-1]).all())


def test_neighbourhoods_are_cached_per_edge_tensor():
    edge_index = torch.tensor([[0, 1, 2], [1, 2, 0]])
    first = neighbourhood(edge_index, 3)
    assert neighbourhood(edge_index, 3) is first  # same tensor: reused
    assert neighbourhood(edge_index.clone(), 3) is not first  # equal content, other tensor
    edge_index[0, 0] = 2  # in place: rebuilt
    rebuilt = neighbourhood(edge_index, 3)
    assert rebuilt is not first
    assert (2, 1) in zip(rebuilt.col.tolist(), rebuilt.row.tolist(), strict=True)


def test_neighbourhoods_are_built_once_per_topology_and_device(monkeypatch):
    """Batches of one task and size carry the same `topology_key`: gLSTM builds its structures
    once, even when every step's batch holds fresh tensors (as after a copy to a GPU)."""
    from benchmarks.tasks import NAR
    from glstm import neighbourhoods

    monkeypatch.setattr(neighbourhoods, "_BY_TOPOLOGY", neighbourhoods.OrderedDict())
    builds = []
    build = Adjacency.with_self_loops
    monkeypatch.setattr(
        Adjacency, "with_self_loops", lambda *a: builds.append(a) or build(*a), raising=True
    )
    graphs = NAR(num_keys=4, num_train=32, num_val=8, num_test=8).generate(0)["train"]
    graphs.num_hops = 2
    model = GLSTM(8, 2, heads=2, memory_dim=4, khop=True)
    outputs = []
    for step in range(3):
        batch = graphs.batch(torch.arange(4 * step, 4 * step + 8))
        batch.edge_index = batch.edge_index.clone()  # a fresh tensor per step
        batch.hop_index = [h.clone() for h in batch.hop_index]
        outputs.append(model(torch.randn(batch.num_nodes, 8), batch))
    assert len(builds) == 2  # the two hop sets, once
    model(torch.randn(7 * 4, 8), graphs.batch(torch.arange(4)))  # another batch size
    assert len(builds) == 4
    fresh = graphs.batch(torch.arange(8))
    del fresh.topology_key  # without a key: built from the tensors, the same structure
    x = torch.randn(fresh.num_nodes, 8)
    torch.testing.assert_close(model(x, fresh), model(x, graphs.batch(torch.arange(8))))


def test_sparse_products_gradcheck():
    gen = torch.Generator().manual_seed(0)
    adj = Adjacency.with_self_loops(random_graph(6, 15, gen), 6)
    x = torch.randn(2, 6, 3, dtype=torch.double, requires_grad=True)
    q = torch.randn(2, 6, 3, dtype=torch.double, requires_grad=True)
    w = torch.randn(2, adj.nnz, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(lambda w, x: spmm(w, x, adj), (w, x))
    assert torch.autograd.gradcheck(lambda x: spmm(None, x, adj), (x,))
    assert torch.autograd.gradcheck(lambda q, x: sddmm(q, x, adj), (q, x))


def test_node_products_match_their_plain_forms_in_every_mode():
    """outer and matvec against broadcasting: values, first and second derivatives (gradcheck,
    gradgradcheck), forward mode (jacfwd) and vmap."""
    gen = torch.Generator().manual_seed(0)
    a, q = (torch.randn(2, 5, n, dtype=torch.double, generator=gen) for n in (3, 4))
    s = torch.randn(2, 5, 3, 4, dtype=torch.double, generator=gen)
    torch.testing.assert_close(outer(a, q), a[..., :, None] * q[..., None, :])
    torch.testing.assert_close(matvec(s, q), (s @ q[..., None]).squeeze(-1))
    inputs = [t.clone().requires_grad_() for t in (a, q, s)]
    for fn, args in ((outer, inputs[:2]), (matvec, inputs[2:0:-1])):
        assert torch.autograd.gradcheck(fn, args)
        assert torch.autograd.gradgradcheck(fn, args)
    plain_matvec = lambda s, q: (s @ q[..., None]).squeeze(-1)  # noqa: E731
    torch.testing.assert_close(
        torch.func.jacfwd(matvec, argnums=(0, 1))(s, q),
        torch.func.jacfwd(plain_matvec, argnums=(0, 1))(s, q),
    )
    torch.testing.assert_close(
        torch.func.jacrev(lambda a: outer(a, q))(a),
        torch.func.jacrev(lambda a: a[..., :, None] * q[..., None, :])(a),
    )
    batched = torch.vmap(matvec, in_dims=(0, None))(s, q[0])
    torch.testing.assert_close(batched, plain_matvec(s, q[0]))


# -- options, validation, config -------------------------------------------------------------------
def test_auto_form_counts_a_fixed_cost_per_read():
    """RingTransfer's shape at distance 16 (512 nodes, 16 layers of k-hop pairs, H = 1, d_k = 21):
    the parallel form has fewer multiply-adds but 136 reads against 16 steps; auto takes the
    recurrent form, which ran faster there (speed benchmark, ring_16)."""
    nnz = [3 * 512] * 16
    macs = form_costs(nnz, 512, heads=1, key_dim=21, value_dim=21, entry_gate=False)
    assert macs["parallel"] < macs["recurrent"]
    ring = torch.arange(512)
    edge_index = torch.stack([ring, (ring + 1) % 512])
    adj = Adjacency.with_self_loops(torch.cat([edge_index, edge_index.flip(0)], 1), 512)
    assert adj.nnz == nnz[0]
    model = GLSTM(16, 16, heads=1, memory_dim=21)
    assert model.choose_form([adj] * 16, 512) == "recurrent"
    assert model.choose_form([adj] * 2, 512) == "parallel"  # 3 reads against 2 steps


def test_auto_form_follows_cost_model():
    nar = form_costs([5000, 5000], 2000, heads=1, key_dim=32, value_dim=32, entry_gate=False)
    assert nar["parallel"] < nar["recurrent"]
    deep = form_costs([100] * 40, 100, heads=1, key_dim=2, value_dim=2, entry_gate=False)
    assert deep["recurrent"] < deep["parallel"]
    batch = graph_case("nar", 8)
    assert (
        GLSTM(8, 40, heads=1, memory_dim=2).choose_form(
            [Adjacency.with_self_loops(batch.edge_index, 14)] * 40, 14
        )
        == "recurrent"
    )


def test_dropout_trains_and_eval_is_deterministic():
    batch = graph_case("random", 8)
    model = GLSTM(8, 2, heads=2, memory_dim=4, dropout=0.5)
    model.train()
    assert not torch.equal(model(batch.x, batch), model(batch.x, batch))
    model.eval()
    assert torch.equal(model(batch.x, batch), model(batch.x, batch))


@pytest.mark.parametrize(
    "kwargs, key",
    [
        ({"input_gate": "sender"}, "input_gate"),
        ({"heads": 0}, "heads"),
        ({"dim": -1}, "dim"),
        ({"memory_dim": 0}, "memory_dim"),
        ({"value_dim": 0}, "value_dim"),
        ({"num_blocks": 0}, "num_blocks"),
        ({"num_layers": None}, "num_layers"),
        ({"input_norm": "group"}, "input_norm"),
        ({"act": "swish2"}, "act"),
        ({"form": "fast"}, "form"),
        ({"n_init": "random"}, "n_init"),
        ({"dropout": 1.0}, "dropout"),
        ({"khop": "yes"}, "khop"),
    ],
)
def test_invalid_options_name_the_key(kwargs, key):
    args = {"dim": 8, "num_layers": 2, **kwargs}
    with pytest.raises(ConfigError, match=f"^{key}: "):
        GLSTM(**args)


def test_khop_needs_enough_hop_sets():
    batch = graph_case("random", 8)  # 3 hop sets
    with pytest.raises(ConfigError, match="^khop: with num_layers=4"):
        GLSTM(8, 4, khop=True)(batch.x, batch)
    del batch.hop_index
    with pytest.raises(ConfigError, match="^khop: needs batch.hop_index"):
        GLSTM(8, 2, khop=True)(batch.x, batch)


@pytest.mark.parametrize("name", sorted(p.stem for p in CONF_MODEL.glob("glstm*.yaml")))
def test_model_configs_instantiate(name):
    with initialize_config_dir(config_dir=str(CONF_MODEL), version_base="1.3"):
        cfg = compose(config_name=name)
    assert cfg._target_ == "glstm.GLSTM" and cfg.num_layers is None
    model = instantiate(cfg, dim=cfg.dim, num_layers=2)
    batch = graph_case("nar", cfg.dim)
    assert model(batch.x, batch).shape == (batch.num_nodes, cfg.dim)


def test_default_config_matches_defaults():
    with initialize_config_dir(config_dir=str(CONF_MODEL), version_base="1.3"):
        cfg = compose(config_name="glstm")
    assert (cfg.dim, cfg.heads, cfg.memory_dim) == (64, 4, 16)
    model = instantiate(cfg, dim=cfg.dim, num_layers=2)
    default = GLSTM(64, 2)
    assert repr(model) == repr(default)


# -- recomputation in the backward pass -----------------------------------------------------------
def recompute_twins(form: str, dim: int, num_layers: int, **kwargs) -> tuple[GLSTM, GLSTM]:
    """The same weights, without and with ``recompute``."""
    torch.manual_seed(1)
    plain = GLSTM(dim, num_layers, form=form, **kwargs)
    recomputed = GLSTM(dim, num_layers, form=form, recompute=True, **kwargs)
    recomputed.load_state_dict(plain.state_dict())
    return plain, recomputed


def compare_recompute(form: str, batch: Batch, num_layers: int, seed: int = 0, **kwargs):
    """Outputs, input gradients and every parameter gradient agree within 1e-4; returns both
    runs' parameter gradients."""
    plain, recomputed = recompute_twins(form, batch.x.shape[1], num_layers, **kwargs)
    probe = torch.randn(batch.num_nodes, batch.x.shape[1]) / batch.num_nodes
    results = []
    for model in (plain, recomputed):
        torch.manual_seed(seed)  # the same dropout masks for both
        results.append(run(model, batch.x, batch, probe))
    (out, gx, grads), (out_r, gx_r, grads_r) = results
    assert torch.isfinite(out).all()
    assert_close(out_r, out, "output")
    assert_close(gx_r, gx, "input gradient")
    for name in grads:
        assert_close(grads_r[name], grads[name], f"gradient of {name}")
    return grads, grads_r


@pytest.mark.parametrize("form", ["recurrent", "parallel"])
@pytest.mark.parametrize(
    "graph, khop, variant, blocks, shared",
    [
        ("random", False, "ego", 1, False),
        ("random", True, "edge", 2, False),
        ("nar", True, "neighbour", 1, True),
        ("nar", False, "clean", 2, True),
        ("tree", False, "no_forget", 1, False),
        ("tree", True, "edge_no_input", 2, False),
        ("random", False, "no_output", 1, False),
        ("nar", False, "no_input", 1, False),
    ],
)
def test_recompute_gives_the_same_outputs_and_gradients(form, graph, khop, variant, blocks, shared):
    compare_recompute(
        form,
        graph_case(graph, 8),
        2 if graph == "tree" else 3,
        heads=2,
        memory_dim=4,
        value_dim=3,
        num_blocks=blocks,
        share_weights=shared,
        khop=khop,
        **VARIANTS[variant],
    )


@pytest.mark.parametrize("form", ["recurrent", "parallel"])
@pytest.mark.parametrize(
    "case",
    [
        # Tree-NeighborsMatch as tree_<depth> runs it: d = 32, H = 4, d_k = 16, depth + 1 layers
        {"graphs": [tree_graph(3)] * 2, "sizes": [15] * 2, "dim": 32, "layers": 4, "khop": False,
         "model": {"heads": 4, "memory_dim": 16}},
        # RingTransfer as ring_<distance> runs it: d = 16, H = 1, d_k = 21, k-hop, distance layers
        {"graphs": [torch.stack([torch.arange(8), (torch.arange(8) + 1) % 8])] * 2,
         "sizes": [8] * 2, "dim": 16, "layers": 4, "khop": True,
         "model": {"heads": 1, "memory_dim": 21}},
    ],
    ids=["tree", "ring"],
)  # fmt: skip
def test_recompute_agrees_on_the_speed_cases_scaled_down(form, case):
    batch = make_batch(case["graphs"], case["sizes"], case["dim"], max_hops=case["layers"])
    compare_recompute(form, batch, case["layers"], khop=case["khop"], **case["model"])


@pytest.mark.parametrize("form", ["recurrent", "parallel"])
def test_recompute_keeps_dropout_masks(form):
    """With dropout the recomputed layer draws the same masks (the RNG state is restored): the
    gradients are those of the step without recomputation, to the last bit."""
    grads, grads_r = compare_recompute(
        form, graph_case("random", 8), 3, heads=2, memory_dim=4, dropout=0.5, seed=7
    )
    for name in grads:
        assert torch.equal(grads_r[name], grads[name]), name


@pytest.mark.parametrize("form", ["recurrent", "parallel"])
def test_recompute_runs_each_layer_again_and_keeps_less(form, monkeypatch):
    """Each layer runs once more in the backward pass, and the forward pass saves only the
    layers' inputs for it; without gradients (or without the option) each layer runs once."""
    from glstm.layer import GLSTMLayer

    batch = graph_case("random", 8)
    plain, recomputed = recompute_twins(form, 8, 3, heads=2, memory_dim=4)
    x = batch.x.clone().requires_grad_(True)

    def saved_floats(model: GLSTM) -> int:
        sizes = []
        with torch.autograd.graph.saved_tensors_hooks(
            lambda t: sizes.append(t.numel()) or t, lambda t: t
        ):
            model(x, batch)
        return sum(sizes)

    assert saved_floats(recomputed) < saved_floats(plain) / 10
    calls = []
    forward = GLSTMLayer.forward
    monkeypatch.setattr(GLSTMLayer, "forward", lambda *a: calls.append(1) or forward(*a))
    recomputed(x, batch).sum().backward()
    assert len(calls) == 6
    calls.clear()
    with torch.no_grad():
        _, (memory,) = recomputed.forward_with_memory(x, batch)
    assert len(calls) == 3
    _, (memory_r,) = recomputed.forward_with_memory(x, batch)  # the memory is updated alike
    for a, b, name in zip(memory.state(), memory_r.state(), "Cnm", strict=True):
        assert_close(b.detach(), a, name)


def test_recompute_keeps_no_keys_or_values_in_the_parallel_memory():
    """With recompute the parallel memory holds one element in place of each layer's k and
    [v; 1], and makes them again, equal to the last bit, where they are read; without it, or
    without gradients, it keeps them."""
    batch = graph_case("random", 8)
    plain, recomputed = recompute_twins("parallel", 8, 3, heads=2, memory_dim=4, value_dim=3)
    x = batch.x.clone().requires_grad_(True)
    _, (memory,) = plain.forward_with_memory(x, batch)
    _, (memory_r,) = recomputed.forward_with_memory(x, batch)
    with torch.no_grad():
        _, (memory_off,) = recomputed.forward_with_memory(x, batch)
    assert all(w[5] is None for w in memory.writes + memory_off.writes)
    assert not memory.regenerate and not memory_off.regenerate and memory_r.regenerate
    for w, w_r in zip(memory.writes, memory_r.writes, strict=True):
        for t, t_r in zip(w[1:3], w_r[1:3], strict=True):
            assert t_r.shape == t.shape and t_r.untyped_storage().nbytes() == t.element_size()
            assert t.untyped_storage().nbytes() >= t.numel() * t.element_size()
        k, vv = w_r[5]()
        assert torch.equal(k, w[1]) and torch.equal(vv, w[2])


@pytest.mark.parametrize("form", ["recurrent", "parallel"])
def test_recompute_second_derivatives(form):
    """Double backward (the mixing measurement's) through the recomputed layers."""
    batch = graph_case("nar", 8)
    plain, recomputed = recompute_twins(form, 8, 2, heads=2, memory_dim=4, value_dim=3)
    plain.eval(), recomputed.eval()
    second = []
    for model in (plain, recomputed):
        x = batch.x.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(model(x, batch).sin().sum(), x, create_graph=True)
        (hvp,) = torch.autograd.grad(grad.square().sum(), x)
        second.append((grad.detach(), hvp))
    assert_close(second[1][0], second[0][0], "gradient")
    assert_close(second[1][1], second[0][1], "second derivative")


def test_recompute_is_set_from_the_command_line():
    """Not a key of conf/model/glstm.yaml (stored config hashes stay put): `+model.recompute`."""
    with initialize_config_dir(config_dir=str(CONF_MODEL), version_base="1.3"):
        assert "recompute" not in compose(config_name="glstm")
        cfg = compose(config_name="glstm", overrides=["+recompute=true"])
    model = instantiate(cfg, dim=cfg.dim, num_layers=2)
    assert model.recompute and all(block.recompute for block in model.blocks)
    with pytest.raises(ConfigError, match="^recompute: "):
        GLSTM(8, 2, recompute="yes")


# -- learning (slow) ------------------------------------------------------------------------------
@pytest.mark.slow
def test_glstm_learns_nar_where_gcn_cannot(tmp_path):
    """The paper protocol on 2,000 training graphs: gLSTM (H = 1, d_k = 16, d = 32, k-hop) recalls
    N = 8 keys; GCN of width 64 stays far below that at N = 32. (2.5 min on a quiet 2-core CPU.)"""
    from benchmarks.engine.runner import run
    from tests.helpers import compose_config

    def train(*overrides: str) -> float:
        cfg = compose_config(["task=nar", "task.num_train=2000", *overrides], tmp_path)
        return run(cfg)["score"]  # test accuracy at the last best-validation epoch

    glstm = train("task.num_keys=8", "model=glstm", "model.dim=32", "model.heads=1",
                  "model.memory_dim=16", "model.khop=true")  # fmt: skip
    assert glstm >= 0.95
    gcn = train("task.num_keys=32", "model=gcn", "model.dim=64")
    assert gcn < 0.5 and gcn < glstm - 0.4
