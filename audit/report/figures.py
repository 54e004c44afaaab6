"""A comparison of two runs as the report shows it: one formatted row per key figure.

The figures, their tests and the overall answer are :mod:`audit.comparison`'s
(:func:`~audit.comparison.compare_summaries`); the report's baseline table and
``cam-audit compare`` format them here, so a release manager sees the same numbers, tests and
words in both.
"""

from __future__ import annotations

from audit.comparison import (
    METHODS_RULE,
    OVERALL_RULE,
    Comparison,
    FigureComparison,
    compare_summaries,
    figure_title,
    key_figures,
)
from audit.report.format import fmt_count, fmt_delta, fmt_num, fmt_pct, fmt_test
from audit.report.methods import method_title

__all__ = [
    "ASSESSMENT_TEXT",
    "METHODS_RULE",
    "OVERALL_RULE",
    "TEST_NAMES",
    "assessment_text",
    "change_rows",
    "compare_summaries",
    "evidence_text",
    "key_figures",
]

#: The tests, as people read them.
TEST_NAMES = {
    "mcnemar-exact": "McNemar exact",
    "paired-bootstrap": "paired bootstrap",
    "newcombe": "Newcombe interval",
    "combined-intervals": "combined intervals",
}

#: Each assessment in words (a note follows some of them).
ASSESSMENT_TEXT = {
    "regression": "regression",
    "improvement": "improved",
    "no_significant_change": "no significant change",
    "changed": "changed",
    "not_comparable": "not comparable",
    "too_few": "too few samples to judge",
    "undefined": "n/a",
}


def evidence_text(row: FigureComparison) -> str:
    """The test's result in words: ``"p = 3.0e-36"`` or ``"95% CI -99.9 pp to -94.3 pp"``;
    ``""`` when the change was not tested."""
    return fmt_test(row.p_value, row.interval, row.unit)


def assessment_text(row: FigureComparison) -> str:
    """The assessment in words, with its reason where it has one: ``"not comparable (errors
    1 → 120)"``, ``"too few samples to judge (n=1 < min_n 10)"``."""
    text = ASSESSMENT_TEXT[row.assessment]
    if row.assessment == "not_comparable":
        see = f"; see {figure_title(row.companion)}" if row.companion else ""
        return f"{text} ({row.note}{see})"
    if row.assessment == "too_few":
        return f"{text} ({row.note.split(': ', 1)[-1]})"
    if row.assessment == "undefined" and row.note:
        return f"{text} ({row.note})"
    return text


def _value(value, unit: str) -> str:
    return fmt_pct(value) if unit == "pct" else fmt_num(value)


def change_rows(comparison: Comparison) -> list[dict]:
    """The compared figures as table rows, formatted; ``first`` marks the first row of a
    method's group (the report's baseline table and ``cam-audit compare`` share them).

    Each row: ``method`` (title), ``first``, ``label``, ``a``, ``b`` and their ``n_a``,
    ``n_b``, ``delta`` (B - A), ``test`` (in words), ``evidence`` (p-value or interval of the
    difference), ``status`` (the assessment's key) and ``assessment`` (in words).
    """
    rows, previous = [], object()
    for row in comparison.figures:
        rows.append({
            "method": method_title(row.method) if row.method else "",
            "first": row.method != previous,
            "label": row.label,
            "a": _value(row.a, row.unit),
            "b": _value(row.b, row.unit),
            "n_a": fmt_count(row.n_a),
            "n_b": fmt_count(row.n_b),
            "delta": fmt_delta(row.difference, row.unit),
            "test": TEST_NAMES.get(row.test, row.test or ""),
            "evidence": evidence_text(row),
            "status": row.assessment,
            "assessment": assessment_text(row),
        })
        previous = row.method
    return rows
