"""The model contract: what every model of the suite shares, and the one place its options are
checked.

A model is a ``torch.nn.Module`` built as ``Model(dim=d, num_layers=L, **options)`` whose
``forward(x: [N, d], batch) -> [N, d]`` maps node states to node states; the task encodes the
inputs and reads the outputs. A model has the shared options below that apply to it, under these
names and with this meaning (its defaults are its own):

    dim (int): node width d, of the input and of the output.
    num_layers (int): L, message-passing layers (the runner sets it from the task when the config
        says null).
    heads (int): H, attention or memory heads.
    khop (bool): layer l (1-based) aggregates the pairs at shortest-path distance exactly l
        (``batch.hop_index[l - 1]``, [2, E_l]) instead of the graph's ``edge_index``.
    share_weights (bool): one set of layer weights for all L layers.
    last_layer_fa (bool): the last layer aggregates every node of a graph into its readout node
        (Alon & Yahav's FA, ``benchmarks.core.fully_adjacent``) instead of its edges or hop set.
    residual (bool): a layer adds its input to its output.
    norm (str): ``none`` | ``layer`` | ``batch`` (:data:`NORMS`), on a layer's output.
    act (str): an activation name, ``none`` or one PyG's resolver knows (relu, gelu, tanh, ...).
    dropout (float): a dropout probability, in [0, 1).

``check_model_options(dim=..., num_layers=..., ...)`` checks the shared options it is given; a
model checks what is particular to it with the helpers of ``benchmarks.core.errors`` and the two
below. Every error is a ``ConfigError`` that names the argument (``"dim: must be a positive
integer, got -8"``); the runner adds the config group (``model.dim``).
"""

from __future__ import annotations

from torch import nn
from torch_geometric.nn.resolver import activation_resolver

from benchmarks.core.errors import (
    ConfigError,
    check_bool,
    check_choice,
    check_positive_int,
    require,
)

NORMS = {"none": nn.Identity, "layer": nn.LayerNorm, "batch": nn.BatchNorm1d}


def make_activation(act: str | None, key: str = "act") -> nn.Module:
    """none (or null, identity) -> identity; otherwise an activation PyG's resolver knows (relu,
    gelu, tanh, ...). An unknown name is a ConfigError naming `key`."""
    if act in (None, "none", "identity"):
        return nn.Identity()
    try:
        return activation_resolver(act)
    except ValueError:
        raise ConfigError(f"{key}: unknown activation {act!r}") from None


def check_probability(key: str, value) -> float:
    """`value` as a float, or a ConfigError naming `key` unless it is a number in [0, 1)."""
    ok = isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < 1
    require(ok, key, f"must be a number in [0, 1), got {value!r}")
    return float(value)


def check_divisible(key: str, value: int, by_key: str, by: int) -> int:
    """`value`, or a ConfigError naming `key` unless `by` (the option `by_key`) divides it."""
    require(value % by == 0, key, f"must be divisible by {by_key}={by}, got {value}")
    return value


def _check_num_layers(key: str, value) -> int:
    if value is None:
        raise ConfigError(f"{key}: must be set (the runner sets it from the task), got None")
    return check_positive_int(key, value)


CHECKS = {
    "dim": check_positive_int,
    "num_layers": _check_num_layers,
    "heads": check_positive_int,
    "khop": check_bool,
    "share_weights": check_bool,
    "last_layer_fa": check_bool,
    "residual": check_bool,
    "norm": lambda key, value: check_choice(key, value, NORMS),
    "act": lambda key, value: make_activation(value, key),
    "dropout": check_probability,
}


def check_model_options(**options) -> None:
    """Check the shared options given by name (see the module docstring); the first bad one is a
    ConfigError naming it. A name outside the contract is a TypeError (a model's own options are
    the model's to check)."""
    unknown = sorted(set(options) - set(CHECKS))
    if unknown:
        raise TypeError(f"not shared options of the model contract: {', '.join(unknown)}")
    for key, value in options.items():
        CHECKS[key](key, value)
