"""Build the small LRGB Peptides fixture the tests load through PyG's real `LRGBDataset`.

Writes tests/data/lrgb/peptides-{func,struct}/raw/{train,val,test}.pt: the layout of LRGB's
downloaded archives (`<root>/<name>/raw/<split>.pt`, what `LRGBDataset.raw_file_names` asks for).
Each file is a `torch.save`d list with one tuple per peptide, as `LRGBDataset.process` reads it:

- x [n, 9] int64: OGB atom features (atomic number - 1, chirality, total degree, formal charge + 5,
  total H, radical electrons, hybridization, aromatic, in ring), each within OGB's vocabulary
  [119, 5, 12, 12, 10, 6, 6, 2, 2];
- edge_attr [2m, 3] int64: OGB bond features (type, stereo, conjugated), vocabulary [5, 6, 2];
- edge_index [2, 2m] int64: every bond in both directions, one after the other (OGB's order);
- y [1, 10] float32 0/1 labels (Peptides-func) or [1, 11] float32 standardised targets
  (Peptides-struct).

The peptides are chains of amino-acid residues with heavy atoms only, as OGB builds graphs from
SMILES: the backbone N-CA-C(=O) repeated, a free C-terminal OH, side chains from ten residue types
(phenylalanine gives an aromatic ring). Features come from a small valence model. Both names hold
the same peptides, as LRGB's two archives do, each with its own labels.

Regenerate with `python tests/data/make_lrgb_fixture.py` (deterministic).
"""

from __future__ import annotations

import random
from pathlib import Path

import torch

OUT = Path(__file__).resolve().parent / "lrgb"
SPLITS = {"train": 4, "val": 2, "test": 2}  # peptides per split
RESIDUES = (3, 4)  # residues per peptide, inclusive
AROMATIC = 1.5  # bond order of an aromatic bond

# Side chains: (elements, bonds (a, b, order)); atom -1 is the residue's alpha carbon.
SIDE_CHAINS = {
    "G": ([], []),
    "A": (["C"], [(-1, 0, 1)]),
    "S": (["C", "O"], [(-1, 0, 1), (0, 1, 1)]),
    "C": (["C", "S"], [(-1, 0, 1), (0, 1, 1)]),
    "V": (["C", "C", "C"], [(-1, 0, 1), (0, 1, 1), (0, 2, 1)]),
    "T": (["C", "O", "C"], [(-1, 0, 1), (0, 1, 1), (0, 2, 1)]),
    "D": (["C", "C", "O", "O"], [(-1, 0, 1), (0, 1, 1), (1, 2, 2), (1, 3, 1)]),
    "K": (["C", "C", "C", "C", "N"], [(-1, 0, 1), (0, 1, 1), (1, 2, 1), (2, 3, 1), (3, 4, 1)]),
    "M": (["C", "C", "S", "C"], [(-1, 0, 1), (0, 1, 1), (1, 2, 1), (2, 3, 1)]),
    "F": (
        ["C"] * 7,
        [(-1, 0, 1), (0, 1, 1)] + [(i, i % 6 + 1, AROMATIC) for i in range(1, 7)],  # the ring,
    ),
}
ATOMIC_NUMBER = {"C": 6, "N": 7, "O": 8, "S": 16}
VALENCE = {"C": 4, "N": 3, "O": 2, "S": 2}
SP2, SP3 = 1, 2  # OGB hybridization indices (SP, SP2, SP3, ...)
BOND_TYPE = {1: 0, 2: 1, AROMATIC: 3}  # OGB: SINGLE, DOUBLE, TRIPLE, AROMATIC, misc


def peptide(sequence: str, rng: random.Random) -> tuple[list[str], list[tuple], set[int]]:
    """Heavy atoms (elements), bonds (a, b, order) and chiral alpha carbons of a chain."""
    elements: list[str] = []
    bonds: list[tuple] = []
    chiral: set[int] = set()
    previous_carbonyl = None
    for residue in sequence:
        n, ca, c, o = range(len(elements), len(elements) + 4)
        elements += ["N", "C", "C", "O"]
        bonds += [(n, ca, 1), (ca, c, 1), (c, o, 2)]
        if previous_carbonyl is not None:
            bonds.append((previous_carbonyl, n, 1))  # the peptide bond
        side, side_bonds = SIDE_CHAINS[residue]
        first = len(elements)
        elements += side
        for a, b, order in side_bonds:
            bonds.append((ca if a == -1 else first + a, first + b, order))
        if residue != "G" and rng.random() < 0.95:  # L-amino acids; a few stereo-unspecified
            chiral.add(ca)
        previous_carbonyl = c
    bonds.append((previous_carbonyl, len(elements), 1))  # C-terminal OH
    elements.append("O")
    return elements, bonds, chiral


def features(elements, bonds, chiral, rng: random.Random):
    """OGB atom features [n, 9], bond features [2m, 3] and edge_index [2, 2m]."""
    n = len(elements)
    neighbours: list[list[tuple[int, float]]] = [[] for _ in range(n)]
    for a, b, order in bonds:
        neighbours[a].append((b, order))
        neighbours[b].append((a, order))
    aromatic = [any(order == AROMATIC for _, order in neighbours[i]) for i in range(n)]
    double = [any(order in (2, AROMATIC) for _, order in neighbours[i]) for i in range(n)]
    # A heteroatom next to a C=O (amide N, acid O) is conjugated: SP2, as RDKit finds it.
    next_to_carbonyl = [
        elements[i] in "NO" and any(double[j] and elements[j] == "C" for j, _ in neighbours[i])
        for i in range(n)
    ]
    sp2 = [double[i] or next_to_carbonyl[i] for i in range(n)]
    x = []
    for i, element in enumerate(elements):
        hydrogens = VALENCE[element] - round(sum(order for _, order in neighbours[i]))
        x.append(
            [
                ATOMIC_NUMBER[element] - 1,
                rng.choice((1, 2)) if i in chiral else 0,
                len(neighbours[i]) + hydrogens,
                5,  # formal charge 0
                hydrogens,
                0,  # no radical electrons
                SP2 if sp2[i] else SP3,
                int(aromatic[i]),
                int(aromatic[i]),  # the only rings are phenylalanine's
            ]
        )
    edges, attrs = [], []
    for a, b, order in bonds:
        conjugated = order != 1 or (sp2[a] and sp2[b])
        edges += [(a, b), (b, a)]
        attrs += [[BOND_TYPE[order], 0, int(conjugated)]] * 2
    return (
        torch.tensor(x, dtype=torch.long),
        torch.tensor(attrs, dtype=torch.long),
        torch.tensor(edges, dtype=torch.long).t().contiguous(),
    )


def build(seed: int = 0) -> dict[str, dict[str, list[tuple]]]:
    """{name: {split: [(x, edge_attr, edge_index, y), ...]}} for func and struct."""
    rng = random.Random(seed)
    generator = torch.Generator().manual_seed(seed)
    out: dict[str, dict[str, list[tuple]]] = {"peptides-func": {}, "peptides-struct": {}}
    for split, count in SPLITS.items():
        func, struct = [], []
        for _ in range(count):
            sequence = "".join(rng.choices(list(SIDE_CHAINS), k=rng.randint(*RESIDUES)))
            x, edge_attr, edge_index = features(*peptide(sequence, rng), rng)
            labels = (torch.rand(1, 10, generator=generator) < 0.4).float()
            size = (len(x) - 28) / 5  # struct targets: size-driven, standardised, noisy
            targets = size * torch.linspace(-1, 1, 11) + 0.3 * torch.randn(
                1, 11, generator=generator
            )
            func.append((x, edge_attr, edge_index, labels))
            struct.append((x, edge_attr, edge_index, targets))
        both = torch.cat([y for *_, y in func]).std(0) > 0  # [10] labels with both classes
        assert both.any(), f"{split}: no label with both classes; average precision undefined"
        out["peptides-func"][split] = func
        out["peptides-struct"][split] = struct
    return out


def main() -> None:
    for name, splits in build().items():
        raw = OUT / name / "raw"
        raw.mkdir(parents=True, exist_ok=True)
        for split, graphs in splits.items():
            torch.save(graphs, raw / f"{split}.pt")
    total = sum(p.stat().st_size for p in OUT.rglob("*.pt"))
    print(f"wrote {OUT} ({total / 1000:.0f} kB)")


if __name__ == "__main__":
    main()
