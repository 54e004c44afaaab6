"""The verdict: the gates of the run and what they add up to."""

from __future__ import annotations

from audit.report.format import fmt_ci, fmt_delta, fmt_figure, fmt_num, fmt_pct
from audit.summary import Estimate, RunSummary

__all__ = ["first_figures", "verdict_state", "verdict_view"]


def verdict_state(passed: bool | None) -> tuple[str, str]:
    """(state, label) of a run's verdict: ``("passed", "PASSED")``, ``("failed", "FAILED")``
    or, for a run without one, ``("none", "NO VERDICT")``."""
    if passed is None:
        return "none", "NO VERDICT"
    return ("passed", "PASSED") if passed else ("failed", "FAILED")


def verdict_view(summary: RunSummary) -> dict:
    """``state`` (``"passed"``, ``"failed"`` or ``"none"`` without a verdict), ``label``, a
    one-line ``line``, ``first`` (without gates: :func:`first_figures`) and one row per gate
    (``name``, ``value``, ``threshold``, ``passed``,
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
    # No gate, no verdict, whatever an older summary.json's "passed" says.
    state, label = verdict_state(summary.passed if rows else None)
    n_failed = sum(not r["passed"] for r in rows)
    plural = "s" if len(rows) != 1 else ""
    if not rows:
        line = ("No verdict: no gates configured. Nothing was judged (exit code 0); read "
                "these figures first, and set thresholds under gates: to make the run pass "
                "or fail.")
    elif n_failed:
        line = f"{n_failed} of {len(rows)} gate{plural} failed."
    else:
        line = f"All {len(rows)} gate{plural} passed."
    few = [r for r in rows if r["too_few"]]
    if few:
        counted = "failed" if not few[0]["passed"] else "passed"
        line += (f" {len(few)} had not enough samples to judge ({counted} as gates.on_too_few "
                 "says).")
    controlled = [g for g in summary.gates.values() if g.p_adjusted is not None]
    if controlled:
        line += (f" The {len(controlled)} per-slice gates are judged with the false-discovery "
                 "rate across them controlled (Benjamini-Hochberg, report.fdr).")
    return {"state": state, "label": label, "line": line, "gates": rows,
            "disagreement": _disagreement(summary),
            "faithfulness": faithfulness_sentence(summary),
            "first": first_figures(summary) if not rows else []}


def faithfulness_sentence(summary: RunSummary) -> str | None:
    """One sentence on the faithfulness outcomes, naming how many methods are undecided and
    about what ``faithfulness.max_samples`` would likely decide them; None without the stage.

    >>> from audit.summary import FaithfulnessRun
    >>> first, second = faithfulness_sentence(RunSummary(faithfulness=FaithfulnessRun(
    ...     n_faithful=1, n_undecided=2, n_used=40, samples_to_decide=180))).split("; ")
    >>> first
    'Faithfulness on 40 samples: 1 method faithful, 2 undecided'
    >>> second
    'faithfulness.max_samples: 180 would likely decide them (normal approximation, 80% power).'
    """
    run = summary.faithfulness
    if run is None:
        return None
    parts = [f"{n} method{'s' if n != 1 else ''} {word}" if i == 0 else f"{n} {word}"
             for i, (n, word) in enumerate(
                 (n, w) for n, w in ((run.n_faithful, "faithful"),
                                     (run.n_not_faithful, "not faithful"),
                                     (run.n_undecided, "undecided")) if n)]
    if not parts:
        return None
    line = f"Faithfulness on {run.n_used} samples: {', '.join(parts)}"
    if run.n_undecided and run.samples_to_decide:
        them = "it" if run.n_undecided == 1 else "them"
        line += (f"; faithfulness.max_samples: {run.samples_to_decide} would likely decide "
                 f"{them} (normal approximation, 80% power)")
    elif run.n_undecided:
        line += "; these samples cannot say how many more would decide"
    return line + "."


def _interval(estimate: Estimate, kind: str) -> str:
    ci = fmt_ci((estimate.ci_low, estimate.ci_high), kind)
    return f"95% CI {ci}, n={estimate.n}" if ci else f"n={estimate.n}"


def first_figures(summary: RunSummary) -> list[dict]:
    """The two or three figures a reader of a run without gates should look at first
    (``name``, ``value``, ``note``): accuracy, then the explainer-free evidence of background
    reliance (the swap's BG-Gap and background-follow rate when the run has them, else the
    fill test's reliance), else the highest background-fixation rate of a method."""
    out = []
    if summary.accuracy is not None:
        out.append({"name": "accuracy", "value": fmt_pct(summary.accuracy),
                    "note": f"{summary.n_samples} samples"})
    behaviour = summary.behaviour
    swap = behaviour.swap if behaviour is not None else None
    if swap is not None and swap.n:
        out.append({"name": "BG-Gap (Mixed-Same - Mixed-Rand)",
                    "value": fmt_delta(swap.bg_gap.value, "pct"),
                    "note": f"{_interval(swap.bg_gap, 'pct')}; ImageNet-9's ResNet-50: "
                            "+7.3 pp"})
        out.append({"name": "decisions that follow the background (Mixed-Rand)",
                    "value": fmt_pct(swap.background_follow_rate.value),
                    "note": _interval(swap.background_follow_rate, "pct")})
    elif behaviour is not None and behaviour.background_reliance.n:
        out.append({"name": f"background reliance ({behaviour.fill} fill)",
                    "value": fmt_num(behaviour.background_reliance.value, 2),
                    "note": _interval(behaviour.background_reliance, "num")})
    else:
        rates = [(m.background_fixation_rate, name) for name, m in summary.methods.items()
                 if m.background_fixation_rate is not None]
        if rates:
            rate, name = max(rates)
            out.append({"name": f"background fixation among errors ({name})",
                        "value": fmt_pct(rate), "note": "the highest of the methods"})
    return out


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
