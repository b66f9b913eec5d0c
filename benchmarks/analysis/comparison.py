"""The compare command's library: one model against others, per cell and over cells."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from benchmarks.analysis import statistics as st
from benchmarks.analysis.board import number_text, score_text
from benchmarks.analysis.ranking import cell_table, column_order
from benchmarks.analysis.rows import SEEDS
from benchmarks.analysis.runs import natural_key
from benchmarks.analysis.tables import MISSING, to_markdown


def resolve_rows(name: str, runs: pd.DataFrame) -> list[str]:
    """The rows `name` names: a row label, or every row of a model's name, config choice or
    "name (choice)" (e.g. both gLSTM variants for "glstm"). ValueError (one line, with the
    models) when it names none."""
    rows = sorted(runs["row"].unique(), key=natural_key)
    if name in rows:
        return [name]
    names = runs[["model", "model_name", "row"]].astype(str)
    if "model_config" in runs:
        names["model_config"] = runs["model_config"].astype(str)
    matches = set(names.loc[(names.drop(columns="row") == name).any(axis=1), "row"])
    if not matches:
        raise ValueError(f"no model {name!r} in these runs; models: {'; '.join(rows)}")
    return sorted(matches, key=natural_key)


def resolve_model(name: str, runs: pd.DataFrame) -> str:
    """The one row `name` names; ValueError (one line, with the candidates) otherwise."""
    matches = resolve_rows(name, runs)
    if len(matches) > 1:
        raise ValueError(f"{name!r} has several rows, name one: {'; '.join(matches)}")
    return matches[0]


def compare_cells(
    runs: pd.DataFrame, a: str, others: list[str], test: str = "t", alpha: float = st.ALPHA
) -> pd.DataFrame:
    """Per other model and cell (task instance) that both ran: A's and B's mean scores and
    seeds, the paired difference A - B over shared seeds with its bootstrap interval, the paired
    test's p and the verdict ("too few seeds", "A better", "B better", "not significant")."""
    rows = []
    cells = runs.groupby(["row", "column"], sort=False)
    for b in others:
        for column in column_order(runs[runs["row"].isin([a, b])].drop_duplicates("column")):
            if (a, column) not in cells.groups or (b, column) not in cells.groups:
                continue
            ours, theirs = cells.get_group((a, column)), cells.get_group((b, column))
            pairs = st.pair_by_seed(ours, theirs, list(SEEDS))
            result = st.paired_difference(pairs["a"], pairs["b"], test)
            higher = bool(ours["higher_is_better"].iloc[0])
            verdict = result.verdict(alpha)
            if verdict == "significant":
                verdict = "A better" if (result.difference > 0) == higher else "B better"
            rows.append(
                {
                    "B": b,
                    "cell": column,
                    "score_key": ours["score_key"].iloc[0],
                    "metric": ours["metric"].iloc[0],
                    "higher_is_better": higher,
                    "mean_a": ours["score"].mean(),
                    "n_a": len(ours),
                    "mean_b": theirs["score"].mean(),
                    "n_b": len(theirs),
                    "n": result.n,
                    "difference": result.difference,
                    "low": result.low,
                    "high": result.high,
                    "p": result.p,
                    "verdict": verdict,
                }
            )
    return pd.DataFrame(rows)


@dataclass
class OverCells:
    """Ranks of the compared models over the cells all of them ran."""

    models: list[str]
    columns: list[str]
    ranks: pd.DataFrame
    friedman: st.Friedman | None = None
    sign: tuple[int, int, int, float] | None = None


def over_cells(runs: pd.DataFrame, a: str, models: list[str]) -> OverCells | None:
    """A and `models` ranked per cell; over the cells that A and the most models ran
    (:func:`statistics.common_block`, A kept): the sign test for two models, the Friedman test
    and Nemenyi post-hoc for three or more. None when A shares fewer than two cells."""
    cells = cell_table(runs[runs["row"].isin([a, *models])])
    present = cells.pivot(index="row", columns="column", values="mean").notna()
    kept, columns = st.common_block(present, keep=(a,))
    if not kept:
        return None
    block = cells[cells["row"].isin(kept) & cells["column"].isin(columns)]
    means = block.pivot(index="column", columns="row", values="mean")
    ranks = st.rank_table(means, block.groupby("column")["higher_is_better"].first())
    out = OverCells(models=kept, columns=columns, ranks=ranks)
    if len(kept) == 2:
        b = next(m for m in kept if m != a)
        out.sign = st.sign_test(ranks[a], ranks[b])
    else:
        out.friedman = st.friedman(ranks)
    return out


def _means_text(means: pd.Series, metrics: pd.Series, runs: pd.Series) -> list[str]:
    return [f"{score_text(m, k)} ({n})" for m, k, n in zip(means, metrics, runs, strict=True)]


def compare_table(compared: pd.DataFrame, several: bool) -> pd.DataFrame:
    """The per-cell comparisons as text columns."""
    table = pd.DataFrame(
        {
            "cell": compared["cell"],
            "score": [
                f"{k} ({'higher' if h else 'lower'} is better)"
                for k, h in zip(compared["score_key"], compared["higher_is_better"], strict=True)
            ],
            "A": _means_text(compared["mean_a"], compared["metric"], compared["n_a"]),
            "B": _means_text(compared["mean_b"], compared["metric"], compared["n_b"]),
            "n": compared["n"],
            "A - B": compared["difference"].map(lambda d: number_text(d, "+.3g")),
            "CI": [
                MISSING if pd.isna(lo) else f"[{lo:+.3g}, {hi:+.3g}]"
                for lo, hi in zip(compared["low"], compared["high"], strict=True)
            ],
            "p": compared["p"].map(number_text),
            "verdict": compared["verdict"],
        }
    )
    if several:
        table.insert(0, "B model", compared["B"])
    return table


def compare_text(
    experiment: str,
    a: str,
    others: list[str],
    compared: pd.DataFrame,
    overall: OverCells | None,
    test: str = "t",
) -> str:
    """The comparison as Markdown: what was done, the per-cell table, the test over cells."""
    several = len(others) > 1
    against = "every other model" if several else f"B = {others[0]}"
    lines = [
        f"# {experiment}: A = {a} against {against}",
        "",
        "Per cell (task instance at one problem size): A - B over the seeds both ran, paired by "
        f"{', '.join(SEEDS)}; n: pairs; (n) after a mean: its runs. CI: {st.CONFIDENCE:.0%} "
        f"paired bootstrap interval of the mean difference (scipy.stats.bootstrap, BCa, "
        f"{st.RESAMPLES} resamples); p: two-sided {st.TESTS[test]} (scipy), at alpha = "
        f"{st.ALPHA:g}; '{st.TOO_FEW}': fewer than {st.MIN_PAIRS[test]} pairs.",
        "",
    ]
    if compared.empty:
        lines.append("No cell was run by A and B.")
    else:
        lines.append(to_markdown(compare_table(compared, several)))
    lines.append("")
    if overall is None:
        lines.append("Over cells: no test (A shares fewer than two cells with the others).")
    elif overall.sign is not None:
        wins, losses, ties, p = overall.sign
        lines.append(
            f"Over the {len(overall.columns)} cells both ran: A better in {wins}, B better in "
            f"{losses}, tied in {ties} (by mean score); sign test (scipy.stats.binomtest, "
            f"two-sided, ties left out) p = {number_text(p)}."
        )
    else:
        f = overall.friedman
        lines += [
            f"Over the {f.n} cells that all {f.k} models ran: Friedman chi2 = {f.statistic:.3g} "
            f"(df = {f.k - 1}), p = {number_text(f.p)} (scipy.stats.friedmanchisquare). Nemenyi "
            f"post-hoc: critical difference CD = {f.critical_difference:.3f} at alpha = "
            f"{f.alpha:g} (studentized range, scipy.stats.studentized_range); two models differ "
            "when their mean ranks differ by more than CD.",
            "",
        ]
        rows = [
            {
                "model": m,
                "mean rank": f"{r:.2f}",
                "vs A": MISSING if m == a else f"{r - f.mean_ranks[a]:+.2f}",
                "Nemenyi p vs A": MISSING if m == a else number_text(f.pairwise_p.loc[a, m]),
                "differs from A": MISSING
                if m == a
                else ("yes" if abs(r - f.mean_ranks[a]) > f.critical_difference else "no"),
            }
            for m, r in f.mean_ranks.items()
        ]
        lines.append(to_markdown(pd.DataFrame(rows)))
    if overall is not None and len(overall.models) < len(others) + 1:
        left = [m for m in others if m not in overall.models]
        lines += ["", f"Left out over cells (they miss cells the others ran): {'; '.join(left)}."]
    return "\n".join(lines) + "\n"
