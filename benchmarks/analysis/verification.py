"""Ours against the published numbers: one row per anchor and variant of our matching runs,
with the tolerance rule's verdict (`within`, `outside`, or `not run`) beside the anchor's
reproducibility status; and the papers' qualitative claims (figures without published numbers)
evaluated on our cells (`holds`, `does not hold`, or `not run`)."""

from __future__ import annotations

import math

import pandas as pd

from benchmarks.analysis.anchors import STATUSES, Anchor, Claim
from benchmarks.analysis.summary import DDOF, summarise
from benchmarks.analysis.sweeps import lineage

VERDICTS = ("within", "outside", "not run")
CLAIM_VERDICTS = ("holds", "does not hold", "not run")
SHORT_STATUS = {
    "unchecked": "not checked",
    "reproducible": "reproduced by its code",
    "not_reproducible": "not reproducible by its code",
}


def compare(runs: pd.DataFrame, anchors: list[Anchor]) -> pd.DataFrame:
    """One row per anchor and variant of our matching runs (one `not run` row when none match):
    ours (mean, std with ddof = 1, n, on the tolerance's scale), published (value, std, on the
    same scale), difference, bound and verdict. For an anchor ``selected: best`` (the best of a
    published grid), only our best variant by the score is compared, as the paper selected."""
    rows = []
    for a in anchors:
        base = {
            "task": a.task,
            "model": a.model,
            "size": "" if a.size is None else f"{a.size[0].removeprefix('size/')}={a.size[1]:g}",
            "conditions": a.conditions_label(),
            "score_key": a.score_key,
            "published": float(a.tolerance.transform(a.value)),
            "published_std": a.tolerance.transform_std(a.value, a.std),
            "published_as": a.published_as or "",
            "tolerance": a.tolerance.name,
            "status": a.status,
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
        selection = ""
        if a.selected == "best" and len(cells) > 1:
            higher = bool(ours["higher_is_better"].iloc[0]) if "higher_is_better" in ours else False
            best = cells["mean"].idxmax() if higher else cells["mean"].idxmin()
            selection = f"the best of {len(cells)} variants by {a.score_key}, as published"
            cells = cells.loc[[best]]
        at_limit = (
            ours.assign(hit=ours["stopped"] == "max_epochs").groupby("variant")["hit"].sum()
            if "stopped" in ours
            else {}
        )
        for _, cell in cells.iterrows():
            hit = int(at_limit.get(cell["variant"], 0))
            # a run cut by its epoch (round) budget did not finish its protocol
            notes = [selection] if selection else []
            notes += [f"{hit} of {int(cell['n'])} runs hit the epoch limit"] if hit else []
            difference = cell["mean"] - base["published"]
            bound = a.tolerance.bound(cell["std"], base["published_std"])
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
                    "note": "; ".join(notes),
                }
            )
    columns = ["task", "model", "variant", "size", "conditions", "score_key", "mean", "std", "n"]
    columns += ["published", "published_std", "published_as", "difference", "bound", "verdict"]
    columns += ["status", "note", "tolerance", "source"]
    return pd.DataFrame(rows).reindex(columns=columns)


def failures(table: pd.DataFrame) -> pd.DataFrame:
    """The cells that fail verify: outside the tolerance of an anchor that its public code
    reproduces (or that nobody has checked); a cell outside an anchor that is not reproducible
    by its own public code is shown with that status but does not fail."""
    return table[(table["verdict"] == "outside") & (table["status"] != "not_reproducible")]


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

    def verdict(row) -> str:
        if row["status"] == "not_reproducible" and row["verdict"] != "not run":
            return f"{row['verdict']} (anchor {STATUSES[row['status']]}: see below)"
        return row["verdict"]

    shown = pd.DataFrame(
        {
            "task": table["task"],
            "model": table["model"],
            "variant": table["variant"],
            "size": table["size"],
            "conditions": table["conditions"],
            "score": table["score_key"],
            "ours": table.apply(ours, axis=1),
            "published as": table["published_as"].fillna(""),
            "published": table.apply(published, axis=1),
            "difference": table["difference"].map(lambda d: "–" if pd.isna(d) else f"{d:+.3g}"),
            "tolerance": [
                "–" if pd.isna(b) else f"{t} ±{_number(b)}"
                for t, b in zip(table["tolerance"], table["bound"], strict=True)
            ],
            "verdict": table.apply(verdict, axis=1),
            "anchor": table["status"].map(SHORT_STATUS),
            "note": table["note"].fillna(""),
            "source": table["source"],
        }
    )
    for optional in ("variant", "conditions", "published as"):
        if not shown[optional].astype(bool).any():
            shown = shown.drop(columns=optional)
    return shown


def header(experiment: str, anchors: list[Anchor]) -> str:
    base = lineage(experiment)[-1]
    rules = {a.tolerance.name: a.tolerance for a in anchors}
    lines = [
        f"{experiment} against the published numbers (benchmarks/analysis/anchors.yaml"
        + (f", the anchors of {base})" if base != experiment else ")"),
        "",
        "Tolerance (a cell is `within` when the rule holds; one rule per anchor):",
        *[f"- {rule.describe()}" for rule in rules.values()],
        f"- our std: the sample std over seeds (ddof = {DDOF}); with one seed it is undefined "
        "and counts as 0. Cells `not run` do not fail.",
        "- published std on a log10 rule: std / (value ln 10) decades (first order).",
        "- anchor: its reproducibility by its own public code (evidence below); a cell outside "
        "an anchor that its public code does not reproduce is marked so and does not fail.",
    ]
    mapped = {(a.published_as, a.conditions_label(task=True)): a for a in anchors if a.published_as}
    if mapped:
        lines += ["", "Published column -> what it trained on (and the runs compared with it):"]
        lines += [
            f"- published {name} -> our {setting}" for name, setting in sorted(mapped, key=str)
        ]
    return "\n".join(lines)


def anchor_notes(anchors: list[Anchor]) -> str:
    """The anchors' notes and reproducibility evidence, one line per distinct text with the
    anchors it concerns."""
    texts: dict[str, list[str]] = {}
    for a in anchors:
        who = f"{a.model} {a.conditions_label()}".strip()
        if a.evidence:
            texts.setdefault(f"{STATUSES[a.status]}: {a.evidence}", []).append(who)
        if a.note:
            texts.setdefault(a.note, []).append(who)
    if not texts:
        return ""
    lines = ["Anchor notes and reproducibility:"]
    for text, who in texts.items():
        lines.append(f"- {', '.join(dict.fromkeys(who))}: {text}")
    return "\n".join(lines)


def footer(anchors: list[Anchor], sources: dict[str, dict]) -> str:
    used = dict.fromkeys(a.source for a in anchors)
    lines = ["Sources:"]
    for key in used:
        source = sources[key]
        cite = " ".join(str(source.get("cite", "")).split())
        lines.append(f"- {key}: {cite}" + (f" <{source['url']}>" if source.get("url") else ""))
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------
# Claims


def _in_range(claim: Claim, sizes: pd.Index, group: pd.DataFrame) -> list[float]:
    top = claim.max
    if claim.max_key:
        own = group[claim.max_key].dropna().unique() if claim.max_key in group else []
        if len(own) != 1:
            return []
        top = float(own[0]) if top is None else min(top, float(own[0]))
    return [
        s
        for s in sorted(sizes)
        if (claim.min is None or s >= claim.min) and (top is None or s <= top)
    ]


def _judge(claim: Claim, means: pd.Series) -> tuple[str, str]:
    """(verdict, detail) of one variant's means per in-range size."""
    size = claim.size.removeprefix("size/")
    cells = ", ".join(f"{size}={s:g}: {v:.3g}" for s, v in means.items())
    low = means < claim.threshold
    if claim.rule == "at_least":
        bad = means[low]
        return ("holds" if bad.empty else "does not hold"), cells
    if claim.rule == "below":
        bad = means[~low]
        return ("holds" if bad.empty else "does not hold"), cells
    # eventually_below: the first size from which every mean is below
    tail = low[::-1].cummin()[::-1]
    if not tail.any():
        return "does not hold", cells
    first = tail[tail].index[0]
    return "holds", f"below from {size}={first:g}; {cells}"


def evaluate_claims(runs: pd.DataFrame, claims: list[Claim]) -> pd.DataFrame:
    """One row per claim and variant of our matching runs (one `not run` row when none match):
    the mean score per size in the claim's range, the verdict and its detail."""
    rows = []
    for c in claims:
        base = {"claim": c.id, "model": c.model, "rule": c.describe(), "source": c.source}
        ours = runs[c.matches(runs)] if len(runs) else runs
        if len(ours) and c.score_key in ours and c.size in ours:
            ours = ours[ours[c.score_key].notna()]
        if not len(ours) or c.score_key not in ours or c.size not in ours:
            rows.append(base | {"variant": "", "n": 0, "verdict": "not run", "detail": ""})
            continue
        variants = ours["variant"] if "variant" in ours else pd.Series("", index=ours.index)
        for variant, group in ours.groupby(variants, sort=False):
            means = group.groupby(c.size)[c.score_key].mean()
            sizes = _in_range(c, means.index, group)
            if not sizes:
                rows.append(base | {"variant": variant, "n": 0, "verdict": "not run", "detail": ""})
                continue
            verdict, detail = _judge(c, means.loc[sizes])
            n = int(group[group[c.size].isin(sizes)].shape[0])
            rows.append(base | {"variant": variant, "n": n, "verdict": verdict, "detail": detail})
    columns = ["claim", "model", "variant", "rule", "n", "verdict", "detail", "source"]
    return pd.DataFrame(rows).reindex(columns=columns)


def claims_text(claims: list[Claim]) -> str:
    lines = ["Claims checked (the papers show these as figures only, without figure data):"]
    lines += [f"- {c.id}: {c.text} [rule: {c.describe()}; {c.model}]" for c in claims]
    return "\n".join(lines)
