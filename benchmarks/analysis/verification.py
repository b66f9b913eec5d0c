"""Ours against the published numbers: one row per anchor and variant of our matching runs,
with the tolerance rule's verdict (`within`, `outside`, or `not run`)."""

from __future__ import annotations

import math

import pandas as pd

from benchmarks.analysis.anchors import QUICK, Anchor
from benchmarks.analysis.summary import DDOF, summarise

VERDICTS = ("within", "outside", "not run")


def compare(runs: pd.DataFrame, anchors: list[Anchor]) -> pd.DataFrame:
    """One row per anchor and variant of our matching runs (one `not run` row when none match):
    ours (mean, std with ddof = 1, n, on the tolerance's scale), published (value, std, on the
    same scale), difference, bound and verdict."""
    rows = []
    for a in anchors:
        base = {
            "task": a.task,
            "model": a.model,
            "size": "" if a.size is None else f"{a.size[0].removeprefix('size/')}={a.size[1]:g}",
            "conditions": a.conditions_label(),
            "score_key": a.score_key,
            "published": float(a.tolerance.transform(a.value)),
            "published_std": a.std,
            "tolerance": a.tolerance.name,
            "source": a.source,
        }
        ours = runs[a.matches(runs)] if len(runs) else runs
        if len(ours) and a.score_key in ours:
            ours = ours[ours[a.score_key].notna()]
        if not len(ours) or a.score_key not in ours:
            rows.append(base | {"variant": "", "n": 0, "verdict": "not run"})
            continue
        scores = a.tolerance.transform(ours[a.score_key].astype(float))
        cells = summarise(ours.assign(score=scores, score_key=a.score_key))
        at_limit = (
            ours.assign(hit=ours["stopped"] == "max_epochs").groupby("variant")["hit"].sum()
            if "stopped" in ours
            else {}
        )
        for _, cell in cells.iterrows():
            hit = int(at_limit.get(cell["variant"], 0))
            difference = cell["mean"] - base["published"]
            bound = a.tolerance.bound(cell["std"], a.std)
            rows.append(
                base
                | {
                    "variant": cell["variant"],
                    "mean": cell["mean"],
                    "std": cell["std"],
                    "n": int(cell["n"]),
                    "difference": difference,
                    "bound": bound,
                    "verdict": "within" if abs(difference) <= bound else "outside",
                    # a run cut by its epoch (round) budget did not finish its protocol
                    "note": f"{hit} of {int(cell['n'])} runs hit the epoch limit" if hit else "",
                }
            )
    columns = ["task", "model", "variant", "size", "conditions", "score_key", "mean", "std", "n"]
    columns += ["published", "published_std", "difference", "bound", "verdict", "note", "tolerance"]
    return pd.DataFrame(rows).reindex(columns=columns + ["source"])


def _number(value: float) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:.3g}"


def display(table: pd.DataFrame) -> pd.DataFrame:
    """The comparison as printed: "mean ± std (n)" cells, signed differences."""

    def ours(row) -> str:
        if row["n"] == 0:
            return "–"
        text = _number(row["mean"])
        if not math.isnan(row["std"]):
            text += f" ± {_number(row['std'])}"
        return f"{text} (n={int(row['n'])})"

    def published(row) -> str:
        std = row["published_std"]
        return _number(row["published"]) + ("" if pd.isna(std) else f" ± {_number(std)}")

    shown = pd.DataFrame(
        {
            "task": table["task"],
            "model": table["model"],
            "variant": table["variant"],
            "size": table["size"],
            "conditions": table["conditions"],
            "score": table["score_key"],
            "ours": table.apply(ours, axis=1),
            "published": table.apply(published, axis=1),
            "difference": table["difference"].map(lambda d: "–" if pd.isna(d) else f"{d:+.3g}"),
            "tolerance": [
                "–" if pd.isna(b) else f"{t} ±{_number(b)}"
                for t, b in zip(table["tolerance"], table["bound"], strict=True)
            ],
            "verdict": table["verdict"],
            "note": table["note"].fillna(""),
            "source": table["source"],
        }
    )
    for optional in ("variant", "conditions"):
        if not shown[optional].astype(bool).any():
            shown = shown.drop(columns=optional)
    return shown


def header(experiment: str, anchors: list[Anchor]) -> str:
    base = experiment.removesuffix(QUICK)
    rules = {a.tolerance.name: a.tolerance for a in anchors}
    lines = [
        f"{experiment} against the published numbers (benchmarks/analysis/anchors.yaml"
        + (f", the anchors of {base})" if base != experiment else ")"),
        "",
        "Tolerance (a cell is `within` when the rule holds; one rule per anchor):",
        *[f"- {rule.describe()}" for rule in rules.values()],
        f"- our std: the sample std over seeds (ddof = {DDOF}); with one seed it is undefined "
        "and counts as 0. Cells `not run` do not fail.",
    ]
    return "\n".join(lines)


def footer(anchors: list[Anchor], sources: dict[str, dict]) -> str:
    used = dict.fromkeys(a.source for a in anchors)
    lines = ["Sources:"]
    for key in used:
        source = sources[key]
        cite = " ".join(str(source.get("cite", "")).split())
        lines.append(f"- {key}: {cite}" + (f" <{source['url']}>" if source.get("url") else ""))
    return "\n".join(lines)
