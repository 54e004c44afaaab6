"""The verdict: the gates of the run and what they add up to."""

from __future__ import annotations

from audit.report.format import fmt_figure
from audit.summary import RunSummary

__all__ = ["verdict_state", "verdict_view"]


def verdict_state(passed: bool | None) -> tuple[str, str]:
    """(state, label) of a run's verdict: ``("passed", "PASSED")``, ``("failed", "FAILED")``
    or, for a run without one, ``("none", "NO VERDICT")``."""
    if passed is None:
        return "none", "NO VERDICT"
    return ("passed", "PASSED") if passed else ("failed", "FAILED")


def verdict_view(summary: RunSummary) -> dict:
    """``state`` (``"passed"``, ``"failed"`` or ``"none"`` without a verdict), ``label``, a
    one-line ``line`` and one row per gate (``name``, ``value``, ``threshold``, ``passed``,
    ``too_few`` for a gate whose figure had not enough samples, ``reason``), in the order the
    gates were evaluated."""
    rows = [{
        "name": name,
        "value": fmt_figure(gate.value),
        "threshold": fmt_figure(gate.threshold),
        "passed": gate.passed,
        "too_few": gate.outcome == "not_enough_samples",
        "reason": gate.reason,
    } for name, gate in summary.gates.items()]
    state, label = verdict_state(summary.passed)
    n_failed = sum(not r["passed"] for r in rows)
    plural = "s" if len(rows) != 1 else ""
    if not rows:
        line = "No gates configured."
    elif n_failed:
        line = f"{n_failed} of {len(rows)} gate{plural} failed."
    else:
        line = f"All {len(rows)} gate{plural} passed."
    few = [r for r in rows if r["too_few"]]
    if few:
        counted = "failed" if not few[0]["passed"] else "passed"
        line += (f" {len(few)} had not enough samples to judge ({counted} as gates.on_too_few "
                 "says).")
    return {"state": state, "label": label, "line": line, "gates": rows,
            "disagreement": _disagreement(summary)}


def _disagreement(summary: RunSummary) -> str | None:
    """One sentence when the methods disagree about background fixation, naming the one
    that agrees best with the behavioural test."""
    from audit.cams.methods import ordered_methods
    from audit.report.sections.trust import disagreement

    found = disagreement(summary, ordered_methods(summary.methods))
    if found is None:
        return None
    sentence = f"The CAM methods disagree about background fixation ({found['rates']})."
    if found["best"]:
        return (f"{sentence} {found['best']} agrees best with the explainer-free behavioural "
                f"test (Cohen's κ {found['kappa']}).")
    return f"{sentence} No behavioural test ran to say which to believe."
