"""The network a run trains: the task's encoder, the model, the task's readout."""

from __future__ import annotations

from torch import Tensor, nn

from benchmarks.engine.precision import float32_under_autocast


class Network(nn.Module):
    """encoder -> model -> readout: batch -> predictions ([B, out] per graph or [N, out] per
    node, as the readout says with `per_node`).

    `forward(batch, x)` takes the encoded node states x [N, dim] directly when given, so that
    metrics can differentiate with respect to them. With an edge encoder, the model finds the
    encoded edge features in `batch.edge_embedding` [E, dim]. `width` records the node width
    d the parts were built with. With `virtual_node` (baselines.virtual_node.VirtualNode) the
    model runs on the batch plus one virtual node per graph, and the readout sees the graph's
    own nodes.
    """

    def __init__(
        self,
        encoder: nn.Module,
        model: nn.Module,
        readout: nn.Module,
        edge_encoder: nn.Module | None = None,
        width: int | None = None,
        virtual_node: nn.Module | None = None,
    ):
        super().__init__()
        self.encoder, self.model, self.readout = encoder, model, readout
        self.edge_encoder, self.width, self.virtual_node = edge_encoder, width, virtual_node
        float32_under_autocast(self)

    def forward(self, batch, x: Tensor | None = None) -> Tensor:
        x = self.encoder(batch) if x is None else x  # [N, dim]
        if self.edge_encoder is not None:
            batch.edge_embedding = self.edge_encoder(batch)  # [E, dim]
        if self.virtual_node is None:
            return self.readout(self.model(x, batch), batch)
        x, graph, position = self.virtual_node(x, batch)  # [N + B, dim]
        return self.readout(self.model(x, graph)[position], batch)

    def graph_outputs(self, batch, x: Tensor | None = None) -> Tensor:
        """[B, out]: the predictions, at each graph's readout node for per-node readouts."""
        y = self(batch, x)
        return y[batch.readout_index] if self.readout.per_node else y
