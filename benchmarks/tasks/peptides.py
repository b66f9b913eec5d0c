"""LRGB Peptides-func and Peptides-struct (Dwivedi et al., NeurIPS 2022), through PyG's
`LRGBDataset`.

15,535 peptides as molecular graphs (heavy atoms, ~151 nodes, ~307 directed edges), with OGB's
categorical atom (9 columns) and bond (3 columns) features and the published train / val / test
split. Peptides-func: 10 binary labels per peptide (multilabel classification), metric average
precision (AP). Peptides-struct: 11 standardised 3D-structure targets per peptide (regression),
loss and metric the mean absolute error (MAE). The readout is Tönshoff et al.'s (2023): mean
pooling, then a 3-layer MLP with GELU (options: the head's depth and dropout, sum pooling).
Optional positional encodings: the random-walk structural encoding (RWSE, Dwivedi et al. 2022),
node u's return probabilities (RW^k)_uu, k = 1..K, of the random walk RW = D^-1 A; or GraphGPS's
Laplacian encoding (LapPE: eigenvectors and eigenvalues of L = D - A through a DeepSet,
benchmarks/tasks/laplacian_pe.py).
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.datasets import LRGBDataset
from torch_geometric.transforms import AddRandomWalkPE

from benchmarks.core.errors import ConfigError, check_choice, require
from benchmarks.tasks.base import Task, check_positive, per_graph_mean
from benchmarks.tasks.graph_list import GraphList
from benchmarks.tasks.laplacian_pe import AddLaplacianPE, LaplacianPEEncoder
from benchmarks.tasks.readouts import PooledReadout

# OGB's vocabularies (ogb.utils.features.get_atom_feature_dims / get_bond_feature_dims).
ATOM_VOCABULARY = (119, 5, 12, 12, 10, 6, 6, 2, 2)
BOND_VOCABULARY = (5, 6, 2)
OUTPUTS = {"func": 10, "struct": 11}
RAW_FILES = ("train.pt", "val.pt", "test.pt")
ENCODINGS = ("none", "rwse", "lappe")
LAPPE_DIM = 16  # d_pe of Tönshoff et al.'s and the gLSTM code's LapPE


class CategoricalEmbedding(nn.Module):
    """OGB's AtomEncoder / BondEncoder: h_r = sum_c E_c[x_rc], one embedding table E_c per
    categorical column c (Xavier-uniform initialised, as OGB's).

    Args:
        vocabulary: the number of values of each column.
        dim: output width.

    Shapes: x [R, C] integer categories (C = len(vocabulary)) -> [R, dim].
    """

    def __init__(self, vocabulary: tuple[int, ...], dim: int):
        super().__init__()
        self.tables = nn.ModuleList(nn.Embedding(size, dim) for size in vocabulary)
        for table in self.tables:
            nn.init.xavier_uniform_(table.weight)

    def forward(self, x: Tensor) -> Tensor:
        return sum(table(x[:, c]) for c, table in enumerate(self.tables))


class AtomEncoder(nn.Module):
    """The atoms and their positional encoding: batch -> [N, dim].

    - none: x_u = sum_c E_c[atom_uc];
    - RWSE (`pe_steps` K > 0): x_u = sum_c E_c[atom_uc] + Linear(BatchNorm(rwse_u)), the encoding
      added to the atom embedding (GraphGPS concatenates a 28-wide one instead; the sum keeps
      every width valid), BatchNorm on the raw RWSE as GraphGPS's `raw_norm_type: BatchNorm`;
    - LapPE (`lappe_frequencies` k > 0): x_u = [sum_c E_c[atom_uc] (dim - 16 wide); LapPE_u
      (16 wide)], concatenated as GraphGPS's `Atom+LapPE` encoder.

    `batch.x` [N, 9 + K or 9 + 2k]: the 9 OGB atom categories, then the encoding's columns.
    """

    def __init__(self, dim: int, pe_steps: int = 0, lappe_frequencies: int = 0):
        super().__init__()
        atom_dim = dim - LAPPE_DIM if lappe_frequencies else dim
        require(
            atom_dim > 0,
            "model.dim",
            f"must exceed {LAPPE_DIM} with task.positional_encoding=lappe (its {LAPPE_DIM} "
            f"columns are concatenated to the atom embedding), got {dim}",
        )
        self.atoms = CategoricalEmbedding(ATOM_VOCABULARY, atom_dim)
        self.rwse = (
            nn.Sequential(nn.BatchNorm1d(pe_steps), nn.Linear(pe_steps, dim)) if pe_steps else None
        )
        self.lappe = LaplacianPEEncoder(lappe_frequencies, LAPPE_DIM) if lappe_frequencies else None

    def forward(self, batch) -> Tensor:
        columns = len(ATOM_VOCABULARY)
        h = self.atoms(batch.x[:, :columns].long())
        if self.rwse is not None:
            h = h + self.rwse(batch.x[:, columns:].float())
        if self.lappe is not None:
            h = torch.cat([h, self.lappe(batch.x[:, columns:].float())], -1)
        return h


class BondEncoder(nn.Module):
    """e_ij = sum_c E_c[bond_ij,c]: batch.edge_attr [E, 3] -> [E, dim]."""

    def __init__(self, dim: int):
        super().__init__()
        self.bonds = CategoricalEmbedding(BOND_VOCABULARY, dim)

    def forward(self, batch) -> Tensor:
        return self.bonds(batch.edge_attr.long())


class PeptidesDataset(LRGBDataset):
    """PyG's LRGBDataset (its download, raw layout and processing); with a positional encoding
    the processed files (the encoding computed once, as a pre-transform) go to their own
    directory, `<root>/<name>/processed_rwse<K>` or `processed_lappe<k>`, beside the plain
    `processed`.

    Args:
        encoding: "none", "rwse" or "lappe".
        size: K (RWSE walk lengths) or k (LapPE frequencies).
    """

    def __init__(self, root: str, name: str, split: str, encoding: str = "none", size: int = 0):
        self.encoding, self.size = encoding, size
        pre_transform = None
        if encoding == "rwse":
            pre_transform = AddRandomWalkPE(walk_length=size)
        elif encoding == "lappe":
            pre_transform = AddLaplacianPE(size)
        super().__init__(root, name, split, pre_transform=pre_transform)

    @property
    def processed_dir(self) -> str:
        plain = super().processed_dir
        return plain if self.encoding == "none" else f"{plain}_{self.encoding}{self.size}"

    def encoding_columns(self) -> Tensor | None:
        """The encoding's per-node columns over the whole split (None without one)."""
        key = {"none": None, "rwse": "random_walk_pe", "lappe": "laplacian_pe"}[self.encoding]
        return None if key is None else self._data[key]


class Peptides(Task):
    """LRGB Peptides-func or Peptides-struct.

    The data lives in `root` (relative to the working directory; default `data/lrgb`), in PyG's
    layout: `<root>/peptides-func/raw/{train,val,test}.pt` (likewise peptides-struct), processed
    beside it on first use. A missing dataset is downloaded from LRGB's Dropbox archive; when
    that fails, one ConfigError on `task.root` says which file to fetch and where to put it.

    Args:
        name: "func" (10-label AP) or "struct" (11-target MAE).
        root: the dataset directory.
        positional_encoding: "none", "rwse" (random-walk return probabilities added to the
            atom embedding; Tönshoff et al.'s and the gLSTM code's Peptides-func encoding) or
            "lappe" (Laplacian eigenvectors through a DeepSet, 16 columns concatenated to the atom
            embedding; their Peptides-struct encoding).
        pe_steps: K, the RWSE walk lengths 1..K: 20 as GraphGPS (`times_func: range(1, 21)`),
            Tönshoff et al. and the gLSTM Peptides-func config.
        pe_frequencies: k, the LapPE eigenpairs: 10 as their Peptides-struct configs
            (`max_freqs: 10`).
        num_layers: default 6, Tönshoff et al.'s tuned GCN depth on both tasks (their GINE uses
            8, GatedGCN 10, gLSTM 27 / 23: those presets set model.num_layers themselves).
        head_layers: Linears of the graph head (default 3, Tönshoff et al.'s; the gLSTM and
            kGCN-SSM codes' `layers_post_mp: 1`: one Linear).
        head_dropout: Dropout before each Linear of the head (default 0; Tönshoff et al.'s
            GraphGPS head: 0.1).
        pooling: mean (default; Tönshoff et al., gLSTM, DRew) | sum (the kGCN-SSM code's
            Peptides-struct `graph_pooling: add`).

    The split is the published one: `generate(seed)` ignores the seed. Predictions are per graph:
    func [B, 10] logits (BCE with logits), struct [B, 11] (L1 loss). No readout node: the
    sensitivity measurements are skipped.
    """

    name = "peptides"  # one task; the variant is the setting config.task.name, as anchors read it
    readout_node = False

    def __init__(
        self,
        name: str = "func",
        root: str = "data/lrgb",
        positional_encoding: str = "none",
        pe_steps: int = 20,
        pe_frequencies: int = 10,
        num_layers: int | None = None,
        head_layers: int = 3,
        head_dropout: float = 0.0,
        pooling: str = "mean",
    ):
        self.head_layers = check_positive("task.head_layers", head_layers)
        require(
            isinstance(head_dropout, int | float) and 0 <= head_dropout < 1,
            "task.head_dropout",
            f"must be a number in [0, 1), got {head_dropout!r}",
        )
        self.head_dropout = float(head_dropout)
        self.pooling = check_choice("task.pooling", pooling, ("mean", "sum"))
        self.variant = check_choice("task.name", name, tuple(OUTPUTS))
        self.encoding = check_choice("task.positional_encoding", positional_encoding, ENCODINGS)
        self.kind = "multilabel" if name == "func" else "regression"
        self.whole_split = name == "func"
        self.root = Path(root)
        pe_steps = check_positive("task.pe_steps", pe_steps)
        pe_frequencies = check_positive("task.pe_frequencies", pe_frequencies)
        self.pe_steps = pe_steps if positional_encoding == "rwse" else 0
        self.pe_frequencies = pe_frequencies if positional_encoding == "lappe" else 0
        self.num_layers = check_positive("task.num_layers", 6 if num_layers is None else num_layers)
        self.size = {}

    @property
    def dataset_name(self) -> str:
        return f"Peptides-{self.variant}"

    @property
    def metric(self) -> str:
        return "ap" if self.variant == "func" else "mae"

    def generate(self, seed: int) -> dict[str, GraphList]:
        """The published splits as GraphLists; with an encoding, x = [atom categories, the
        encoding's columns] (float)."""
        out = {}
        for split, dataset in self.load().items():
            graphs = GraphList.from_dataset(dataset)
            columns = dataset.encoding_columns()
            if columns is not None:
                graphs.x = torch.cat([graphs.x.float(), columns], -1)
            out[split] = graphs
        return out

    def load(self) -> dict[str, PeptidesDataset]:
        """Each split through LRGBDataset: downloaded and processed when missing."""
        raw_dir = self.root / self.dataset_name.lower() / "raw"
        missing = [f for f in RAW_FILES if not (raw_dir / f).exists()]
        # LRGBDataset's download starts by deleting raw/: refuse rather than lose a partial copy.
        require(
            len(missing) in (0, len(RAW_FILES)),
            "task.root",
            f"{raw_dir} lacks {', '.join(missing)} (it needs {', '.join(RAW_FILES)}); "
            + self.where_to_get_it(),
        )
        try:
            return {
                split: PeptidesDataset(
                    str(self.root), self.dataset_name, split, self.encoding, self.encoding_size
                )
                for split in self.splits
            }
        except (OSError, zipfile.BadZipFile, RuntimeError, pickle.UnpicklingError) as err:
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            if missing:
                raise ConfigError(
                    f"task.root: no {self.dataset_name} data in {self.root} and its download "
                    f"failed ({reason}); {self.where_to_get_it()}"
                ) from None
            raise ConfigError(f"task.root: cannot read {raw_dir}: {reason}") from None

    @property
    def encoding_size(self) -> int:
        return self.pe_steps or self.pe_frequencies

    def where_to_get_it(self) -> str:
        key = self.dataset_name.lower()
        raw_dir = self.root / key / "raw"
        return (
            f"download {LRGBDataset.urls[key]} and unzip it, then move the folder inside, "
            f"{LRGBDataset.dwnld_file_name[key]}/, to {raw_dir}/ (it holds "
            f"{', '.join(RAW_FILES)}), or set task.root to the directory that holds "
            f"{key}/raw/"
        )

    def make_encoder(self, dim: int) -> nn.Module:
        return AtomEncoder(dim, self.pe_steps, self.pe_frequencies)

    def make_edge_encoder(self, dim: int) -> nn.Module:
        return BondEncoder(dim)

    def make_readout(self, dim: int) -> nn.Module:
        return PooledReadout(
            dim,
            OUTPUTS[self.variant],
            pools=(self.pooling,),
            hidden=(dim,) * (self.head_layers - 1),
            act="gelu",
            dropout=self.head_dropout,
        )

    def loss(self, pred: Tensor, batch) -> Tensor:
        """func: binary cross-entropy with logits, mean over graphs and labels; struct: L1."""
        if self.variant == "func":
            return F.binary_cross_entropy_with_logits(pred, batch.y.float())
        return F.l1_loss(pred, batch.y)

    def scores(self, pred: Tensor, batch) -> Tensor:
        """struct: [B] each graph's absolute error averaged over its 11 targets (their mean over
        graphs is the split's MAE). func's AP is a whole-split metric (`split_metric`)."""
        if self.variant == "func":
            raise NotImplementedError("average precision is a whole-split metric")
        return per_graph_mean((pred - batch.y).abs(), batch, node_level=False)

    def split_metric(self, pred: Tensor, y: Tensor) -> float:
        """Average precision as LRGB computes it (OGB's `eval_ap`): per label, over the split's
        graphs whose label is not NaN, sklearn's average_precision_score of the scores `pred`;
        labels without both a positive and a negative are left out; the mean over the rest
        (NaN when none is left).

        Shapes: pred [G, 10] logits (any monotone score), y [G, 10] in {0, 1, NaN}.
        """
        from sklearn.metrics import average_precision_score  # sklearn takes ~1 s to import

        pred, y = pred.double().numpy(), y.double().numpy()
        precisions = []
        for label in range(y.shape[1]):
            known = ~np.isnan(y[:, label])
            truth = y[known, label]
            if (truth == 1).any() and (truth == 0).any():
                precisions.append(average_precision_score(truth, pred[known, label]))
        return float(np.mean(precisions)) if precisions else float("nan")
