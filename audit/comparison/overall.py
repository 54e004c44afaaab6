"""One overall answer for a comparison of two runs, by a rule written out in :data:`OVERALL_RULE`.

The rule weighs only the figures that could be judged: a figure too small to judge, not
comparable across the runs, undefined in either, or without a better direction (the
counter-evidence maps) does not count either way.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from audit.comparison.figures import figure_title

__all__ = ["ANSWERS", "METHODS_RULE", "OVERALL_RULE", "Overall", "overall_answer"]

#: The four answers, as ``comparison.json``'s ``overall`` gives them.
ANSWERS = ("B is worse than A", "B is better than A", "no significant change", "mixed")

#: The rule of the overall answer, as the comparison page prints it.
OVERALL_RULE = (
    "The overall answer: B is worse than A when at least one key figure changed "
    "significantly for the worse (a regression) and none for the better; B is better than A "
    "when at least one improved and none regressed; mixed when some of each; otherwise no "
    "significant change. Figures too small to judge, not comparable between the runs, "
    "undefined in either run, or of counter-evidence maps (no better direction) are not "
    "weighed. Each figure is tested at the 5% level, and the false-discovery rate across the "
    "tested figures is controlled at 5% (Benjamini-Hochberg; report.fdr for a run's drift "
    "flags; an interval test's p-value recovered from its interval): a figure significant "
    "alone but not after the control is no significant change, and its note says so."
)

#: How each change is tested, as the comparison page prints it.
METHODS_RULE = (
    "Runs on the same samples are compared sample by sample: a share of samples (accuracy, "
    "background-fixated errors per sample, pointing and localisation accuracy) with McNemar's "
    "exact test on the samples whose outcome differs between the runs; a mean score (energy "
    "in box) with a seeded bootstrap of the per-sample differences. Runs on different samples "
    "(or without records.csv) are compared by intervals: a share with Newcombe's interval of "
    "the difference of two proportions, a mean with the combined interval "
    "d ± √(h_A² + h_B²) of the two bootstrap intervals. A change is significant when p < 0.05 "
    "or the 95% interval of the difference excludes 0. A figure over misclassified (or "
    "correctly classified) samples only is not comparable when the number of those samples "
    "changed significantly: its unconditional companion (background-fixated errors per "
    "sample, energy in box over all samples) carries the assessment. A figure over fewer "
    "than min_n samples is too few to judge."
)

_NAMED = 4  # figures named in the sentence per direction; the rest are counted


class _Row(Protocol):
    figure: str
    unit: str
    a: float | None
    b: float | None
    assessment: str


class Overall(BaseModel):
    """The overall answer: ``overall`` (one of :data:`ANSWERS`), the ``sentence`` that opens
    the comparison, and the keys of the figures that ``regressions`` / ``improvements``."""

    model_config = ConfigDict(frozen=True)

    overall: str
    sentence: str
    regressions: list[str]
    improvements: list[str]


def _value(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    return f"{100.0 * value:.1f}%" if unit == "pct" else f"{value:.3f}"


def _moves(rows: list[_Row]) -> str:
    named = [f"{figure_title(r.figure)} {_value(r.a, r.unit)} → {_value(r.b, r.unit)}"
             for r in rows[:_NAMED]]
    more = len(rows) - len(named)
    return "; ".join(named) + (f" (and {more} more)" if more else "")


def overall_answer(figures: Iterable[_Row]) -> Overall:
    """The overall answer of a comparison, by :data:`OVERALL_RULE`.

    Parameters
    ----------
    figures : iterable of FigureComparison
        The compared figures; each needs ``figure``, ``unit``, ``a``, ``b`` and
        ``assessment``.

    Returns
    -------
    Overall
        ``"B is worse than A"`` (a regression, no improvement), ``"B is better than A"``
        (an improvement, no regression), ``"mixed"`` (both) or ``"no significant change"``,
        with a sentence naming up to four figures that moved each way, and how many figures
        could not be weighed.

    Examples
    --------
    >>> from types import SimpleNamespace as Row
    >>> rows = [Row(figure="accuracy", unit="pct", a=0.992, b=0.0, assessment="regression"),
    ...         Row(figure="gradcam.background_fixation_rate", unit="pct", a=1.0, b=0.55,
    ...             assessment="not_comparable")]
    >>> answer = overall_answer(rows)
    >>> answer.overall
    'B is worse than A'
    >>> answer.sentence
    'B is worse than A: accuracy 99.2% → 0.0%. 1 figure not weighed (1 not comparable).'
    >>> overall_answer([]).overall
    'no significant change'
    """
    rows = list(figures)
    worse = [r for r in rows if r.assessment == "regression"]
    better = [r for r in rows if r.assessment == "improvement"]
    if worse and better:
        overall = "mixed"
        sentence = f"Mixed: worse in {_moves(worse)}; better in {_moves(better)}."
    elif worse:
        overall = "B is worse than A"
        sentence = f"B is worse than A: {_moves(worse)}."
    elif better:
        overall = "B is better than A"
        sentence = f"B is better than A: {_moves(better)}."
    else:
        overall = "no significant change"
        weighed = sum(r.assessment == "no_significant_change" for r in rows)
        sentence = (f"No significant change between A and B in the {weighed} figure"
                    f"{'s' if weighed != 1 else ''} weighed." if weighed else
                    "No significant change: no figure could be judged.")
    reasons = {"too_few": "too few samples", "not_comparable": "not comparable",
               "undefined": "undefined"}
    left = {words: sum(r.assessment == key for r in rows) for key, words in reasons.items()}
    left = {words: n for words, n in left.items() if n}
    if left:
        total = sum(left.values())
        detail = ", ".join(f"{n} {words}" for words, n in left.items())
        sentence += f" {total} figure{'s' if total != 1 else ''} not weighed ({detail})."
    return Overall(overall=overall, sentence=sentence, regressions=[r.figure for r in worse],
                   improvements=[r.figure for r in better])
