r"""Laplacian positional encoding (LapPE) as GraphGPS computes and encodes it (Rampášek et al.,
NeurIPS 2022; rampasek/GraphGPS `posenc_LapPE` with `model: DeepSet`), the encoding of Tönshoff
et al.'s and the gLSTM code's Peptides-struct configs (`laplacian_norm: none`, `eigvec_norm: L2`,
`max_freqs: 10`, `dim_pe: 16`, `layers: 2`, `raw_norm_type: none`).

Per graph, with the unnormalised Laplacian L = D - A (undirected edges) and its eigenpairs
L phi_j = lambda_j phi_j sorted by eigenvalue, the k pairs of smallest eigenvalue (the constant
eigenvector of lambda = 0 included), each phi_j of unit L2 norm, and lambda_j clamped at 0. A
graph with N < k nodes has N pairs; the rest are NaN (absent).

The encoder is a DeepSet over the pairs present at node u,

.. math::
    pe_u = \sum_{j : \phi_j \text{ present}} \mathrm{ReLU}(W_2\, \mathrm{ReLU}(W_1
        [s_j \phi_j(u);\ \lambda_j] + b_1) + b_2) \in \mathbb{R}^{d_{pe}},

W_1 ``[2 d_pe, 2]``, W_2 ``[d_pe, 2 d_pe]``, with a random sign s_j = +-1 per frequency drawn for
each training batch (an eigenvector's sign is arbitrary), s = 1 in evaluation. PyG's
`AddLaplacianEigenvectorPE` differs (normalised Laplacian, trivial eigenvector dropped, no
eigenvalues), hence this transform.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn
from torch_geometric.data import Data
from torch_geometric.transforms import BaseTransform
from torch_geometric.utils import get_laplacian, to_scipy_sparse_matrix, to_undirected


class AddLaplacianPE(BaseTransform):
    """Adds ``data.laplacian_pe`` ``[N, 2k]``: the k eigenvectors' entries at each node, then the
    k eigenvalues (the same on every node); NaN for the frequencies a small graph lacks.

    Args:
        frequencies: k.
    """

    def __init__(self, frequencies: int):
        self.frequencies = frequencies

    def forward(self, data: Data) -> Data:
        n, k = data.num_nodes, self.frequencies
        edges = to_undirected(data.edge_index, num_nodes=n)
        laplacian = to_scipy_sparse_matrix(*get_laplacian(edges, num_nodes=n), num_nodes=n)
        values, vectors = np.linalg.eigh(laplacian.toarray())  # ascending eigenvalues
        present = min(n, k)
        vectors = vectors[:, :present] / np.linalg.norm(vectors[:, :present], axis=0)
        pe = np.full((n, 2 * k), np.nan, dtype=np.float32)
        pe[:, :present] = vectors
        pe[:, k : k + present] = np.clip(values[:present], 0.0, None)
        data.laplacian_pe = torch.from_numpy(pe)
        return data

    def __repr__(self) -> str:
        return f"{type(self).__name__}(frequencies={self.frequencies})"


class LaplacianPEEncoder(nn.Module):
    """The DeepSet of the module docstring: ``[N, 2k]`` (`AddLaplacianPE`'s columns) ->
    ``[N, dim_pe]``.

    Args:
        frequencies: k.
        dim_pe: d_pe, the output width.
    """

    def __init__(self, frequencies: int, dim_pe: int):
        super().__init__()
        self.frequencies = frequencies
        self.deep_set = nn.Sequential(
            nn.Linear(2, 2 * dim_pe), nn.ReLU(), nn.Linear(2 * dim_pe, dim_pe), nn.ReLU()
        )

    def forward(self, pe: Tensor) -> Tensor:
        k = self.frequencies
        vectors, values = pe[:, :k], pe[:, k:]
        present = ~vectors.isnan()  # [N, k]
        if self.training:
            vectors = vectors * torch.where(torch.rand(k, device=pe.device) < 0.5, -1.0, 1.0)
        pairs = torch.stack([vectors, values], -1).nan_to_num(0.0)  # [N, k, 2]
        return (self.deep_set(pairs) * present[..., None]).sum(1)
