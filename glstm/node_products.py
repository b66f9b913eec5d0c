r"""The two per-node dense products of the recurrent memory, with backward passes that run as
row-vector matrix products.

- ``outer``:  ``out[h, u] = a[h, u] b[h, u]^T``, ``[H, N, A]`` and ``[H, N, B]`` -> ``[H, N, A, B]``
- ``matvec``: ``out[h, u] = S[h, u] q[h, u]``, ``[H, N, A, B]`` and ``[H, N, B]`` -> ``[H, N, A]``

Every product with a vector in them is written with the vector as a row on the left,
``(1 x B) @ (B x A)``: torch's CPU batched matmul runs that shape 3-8x faster than the same product
with the vector as a column on the right, ``(A x B) @ (B x 1)`` (a batch of N matrix-vector products
of a few dozen rows), and the outer product runs as a broadcast product, whose autograd backward
would otherwise sum over the broadcast dimensions. The gradients, with g the output's gradient:

    outer:  d a = g b (row form: b^T g^T),   d b = g^T a (row form: a^T g)
    matvec: d S = outer(g, q),               d q = S^T g (row form: g^T S)

Both are differentiable again (the backward passes are built from the same products) and
``torch.func``-transformable (a forward-mode rule each, both being bilinear, and a generated vmap
rule).
"""

from __future__ import annotations

import torch
from torch import Tensor


def _row_times(vector: Tensor, matrix: Tensor) -> Tensor:
    """``vector^T matrix`` per node: ``[..., A]``, ``[..., A, B]`` -> ``[..., B]``."""
    return (vector.unsqueeze(-2) @ matrix).squeeze(-2)


def _bilinear_jvp(product, a: Tensor, b: Tensor, d_a: Tensor | None, d_b: Tensor | None):
    """The tangent of a bilinear ``product(a, b)``: ``product(d_a, b) + product(a, d_b)``, a
    ``None`` tangent adding nothing."""
    if d_a is None:
        return product(a, d_b)
    return product(d_a, b) if d_b is None else product(d_a, b) + product(a, d_b)


class _Bilinear(torch.autograd.Function):
    """A product of two inputs, linear in each: both are saved for the backward and forward
    modes; a vmap rule is generated."""

    generate_vmap_rule = True

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(*inputs)
        ctx.save_for_forward(*inputs)


class _Outer(_Bilinear):
    @staticmethod
    def forward(a: Tensor, b: Tensor) -> Tensor:
        return a.unsqueeze(-1) * b.unsqueeze(-2)

    @staticmethod
    def backward(ctx, grad: Tensor):
        a, b = ctx.saved_tensors
        grad_a = _row_times(b, grad.mT) if ctx.needs_input_grad[0] else None
        grad_b = _row_times(a, grad) if ctx.needs_input_grad[1] else None
        return grad_a, grad_b

    @staticmethod
    def jvp(ctx, d_a: Tensor | None, d_b: Tensor | None):
        return _bilinear_jvp(outer, *ctx.saved_tensors, d_a, d_b)


class _MatVec(_Bilinear):
    @staticmethod
    def forward(s: Tensor, q: Tensor) -> Tensor:
        return _row_times(q, s.mT)

    @staticmethod
    def backward(ctx, grad: Tensor):
        s, q = ctx.saved_tensors
        grad_s = outer(grad, q) if ctx.needs_input_grad[0] else None
        grad_q = _row_times(grad, s) if ctx.needs_input_grad[1] else None
        return grad_s, grad_q

    @staticmethod
    def jvp(ctx, d_s: Tensor | None, d_q: Tensor | None):
        return _bilinear_jvp(matvec, *ctx.saved_tensors, d_s, d_q)


def outer(a: Tensor, b: Tensor) -> Tensor:
    """Per-node outer products ``a b^T``: ``[H, N, A]``, ``[H, N, B]`` -> ``[H, N, A, B]``."""
    return _Outer.apply(a, b)


def matvec(s: Tensor, q: Tensor) -> Tensor:
    """Per-node matrix-vector products ``S q``: ``[H, N, A, B]``, ``[H, N, B]`` -> ``[H, N, A]``."""
    return _MatVec.apply(s, q)
