"""Neighbour Associative Recall (gLSTM paper, "key-recall" in its code) and its regression form.

Topology (N keys, n = N + 3 nodes, undirected):

    key nodes 3..N+2 --- hub (0, readout) --- relay (1) --- query (2)

Keys are one hop from the hub and the query two hops away, so in layer 1 the hub must store all
N (key, value) pairs before it can know, in layer 2, which key is asked for.
"""

from __future__ import annotations

import torch
from torch import nn

from benchmarks.core.errors import require
from benchmarks.tasks.base import Task, check_even_dim, check_positive, split_sizes
from benchmarks.tasks.graphs import GraphSet, Topology, split_generator, undirected
from benchmarks.tasks.readouts import NodeReadout

HUB, RELAY, QUERY, KEY = 0, 1, 2, 3  # node roles; key nodes are 3..N+2


def nar_topology(num_keys: int) -> Topology:
    keys = torch.arange(3, num_keys + 3)
    edges = torch.cat(
        [
            torch.stack([torch.full_like(keys, HUB), keys]),
            torch.tensor([[HUB], [RELAY]]),
            torch.tensor([[RELAY], [QUERY]]),
        ],
        dim=1,
    )
    roles = torch.tensor([HUB, RELAY, QUERY] + [KEY] * num_keys)
    return Topology(undirected(edges), num_keys + 3, readout=HUB, roles=roles)


class NAR(Task):
    """Classification: node 3+j holds (key j, value v_j), v_j ~ U{0..C-1}; the query node holds
    (key t, null). Label v_t. Null tokens: key N, value C; they embed to zero.

    Args:
        num_keys: N.
        num_classes: C (default N).
        num_train, num_val, num_test: graphs per split (paper: 8000 / 1000 / 1000).
        num_layers: message-passing layers (paper: 2).
    """

    name = "nar"

    def __init__(
        self,
        num_keys: int = 8,
        num_classes: int | None = None,
        num_train: int = 8000,
        num_val: int = 1000,
        num_test: int = 1000,
        num_layers: int = 2,
    ):
        self._init_shape(num_keys, num_train, num_val, num_test, num_layers)
        self.num_classes = num_keys if num_classes is None else num_classes
        require(
            isinstance(self.num_classes, int) and self.num_classes >= 2,
            "task.num_classes" if num_classes is not None else "task.num_keys",
            f"must be an integer >= 2, got {self.num_classes!r}"
            + ("" if num_classes is not None else " (the classes default to the keys)"),
        )

    def _init_shape(self, num_keys, num_train, num_val, num_test, num_layers) -> None:
        self.num_keys = check_positive("task.num_keys", num_keys)
        self.sizes = split_sizes(num_train, num_val, num_test)
        self.num_layers = check_positive("task.num_layers", num_layers)
        self.size = {"num_keys": num_keys}
        self.topology = nar_topology(num_keys)

    def generate(self, seed: int) -> dict[str, GraphSet]:
        return {s: self._split(n, split_generator(seed, s)) for s, n in self.sizes.items()}

    def _split(self, count: int, gen: torch.Generator) -> GraphSet:
        N, C = self.num_keys, self.num_classes
        values = torch.randint(0, C, (count, N), generator=gen)
        target = torch.randint(0, N, (count,), generator=gen)
        x = torch.empty(count, N + 3, 2, dtype=torch.long)
        x[..., 0], x[..., 1] = N, C  # null tokens
        x[:, 3:, 0] = torch.arange(N)
        x[:, 3:, 1] = values
        x[:, QUERY, 0] = target
        y = values.gather(1, target[:, None]).squeeze(1)
        return GraphSet(self.topology, x, y, node_fields={"selected_index": target + 3})

    def make_encoder(self, dim: int) -> nn.Module:
        check_even_dim(self.name, dim)
        return KeyValueEncoder(self.num_keys, self.num_classes, dim)

    def make_readout(self, dim: int) -> nn.Module:
        return NodeReadout(dim, self.num_classes)


class KeyValueEncoder(nn.Module):
    """x = [E_key(key) | E_value(value)]: [N, 2] long -> [N, dim]; the null tokens (the last
    index of each table) embed to a fixed zero vector."""

    def __init__(self, num_keys: int, num_values: int, dim: int):
        super().__init__()
        self.key = nn.Embedding(num_keys + 1, dim // 2, padding_idx=num_keys)
        self.value = nn.Embedding(num_values + 1, dim // 2, padding_idx=num_values)

    def forward(self, batch) -> torch.Tensor:
        return torch.cat([self.key(batch.x[:, 0]), self.value(batch.x[:, 1])], dim=-1)


class NARR(NAR):
    """NAR as regression: values v_j ~ Normal(0, I_D). Features (float, 2N + D):
    key node 3+j = [one-hot(j) | v_j | 0], query = [0 | 0 | one-hot(t)], hub and relay zero.
    Target v_t in R^D; loss and metric MSE.

    Args: as NAR, with value_dim D (default 16) instead of num_classes.
    """

    name = "narr"
    kind = "regression"

    def __init__(
        self,
        num_keys: int = 8,
        value_dim: int = 16,
        num_train: int = 8000,
        num_val: int = 1000,
        num_test: int = 1000,
        num_layers: int = 2,
    ):
        self._init_shape(num_keys, num_train, num_val, num_test, num_layers)
        self.value_dim = check_positive("task.value_dim", value_dim)

    def _split(self, count: int, gen: torch.Generator) -> GraphSet:
        N, D = self.num_keys, self.value_dim
        values = torch.randn(count, N, D, generator=gen)
        target = torch.randint(0, N, (count,), generator=gen)
        x = torch.zeros(count, N + 3, 2 * N + D)
        x[:, 3:, :N] = torch.eye(N)
        x[:, 3:, N : N + D] = values
        x[torch.arange(count), QUERY, N + D + target] = 1.0
        y = values[torch.arange(count), target]
        return GraphSet(self.topology, x, y, node_fields={"selected_index": target + 3})

    def make_encoder(self, dim: int) -> nn.Module:
        return FeatureEncoder(2 * self.num_keys + self.value_dim, dim)

    def make_readout(self, dim: int) -> nn.Module:
        return NodeReadout(dim, self.value_dim)


class FeatureEncoder(nn.Module):
    """x = Linear(features): [N, F] float -> [N, dim]."""

    def __init__(self, features: int, dim: int):
        super().__init__()
        self.linear = nn.Linear(features, dim)

    def forward(self, batch) -> torch.Tensor:
        return self.linear(batch.x)
