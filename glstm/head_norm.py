"""GroupNorm with one group per head, for the read-outs of the xLSTM family."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class HeadNorm(nn.GroupNorm):
    r""":class:`torch.nn.GroupNorm` with H groups on ``[N, H * w]``: each head's w features are
    normalised on their own, then an affine map per feature,

    .. math::
        y_{u,k,j} = \gamma_{k,j} \frac{h_{u,k,j} - \mu_{u,k}}{\sqrt{\sigma^2_{u,k} + \epsilon}}
            + \beta_{k,j}

    (biased variance). The same parameters and result as GroupNorm, computed as a layer norm per
    head, which is several times faster on CPU.

    Args:
        heads (int): H.
        width (int): H * w.

    Shapes:
        - **input:** ``[N, H * w]``.
        - **output:** ``[N, H * w]``.
    """

    def __init__(self, heads: int, width: int):
        super().__init__(heads, width)

    def forward(self, hidden: Tensor) -> Tensor:
        n, heads = hidden.shape[0], self.num_groups
        if heads == 1:
            return F.layer_norm(hidden, hidden.shape[1:], self.weight, self.bias, self.eps)
        normed = F.layer_norm(hidden.view(n, heads, -1), (hidden.shape[1] // heads,), eps=self.eps)
        return torch.addcmul(self.bias, normed.view(n, -1), self.weight)
