"""The model contract: what every model of the suite shares.

A model is a ``torch.nn.Module`` built as ``Model(dim=d, num_layers=L, **options)`` whose
``forward(x: [N, d], batch) -> [N, d]`` maps node states to node states; the task encodes the
inputs and reads the outputs. The options below mean the same thing in every model that has them.
"""

from __future__ import annotations

from torch import nn
from torch_geometric.nn.resolver import activation_resolver

from benchmarks.core.errors import ConfigError

NORMS = {"none": nn.Identity, "layer": nn.LayerNorm, "batch": nn.BatchNorm1d}


def make_activation(act: str | None) -> nn.Module:
    """none -> identity; otherwise an activation PyG's resolver knows (relu, gelu, tanh...)."""
    if act in (None, "none", "identity"):
        return nn.Identity()
    try:
        return activation_resolver(act)
    except ValueError:
        raise ConfigError(f"model.act: unknown activation {act!r}") from None
