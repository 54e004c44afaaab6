"""``junit.xml``: one test case per gate, so a CI system shows the verdict as test results."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from audit.io import atomic_write_bytes
from audit.report.format import fmt_figure, is_number
from audit.summary import RunSummary

__all__ = ["CLASSNAME", "FAITHFULNESS_CLASSNAME", "write_junit"]

CLASSNAME = "cam-audit.analysis.gates"

#: The class name of the faithfulness cases (a suite of their own, after the gates').
FAITHFULNESS_CLASSNAME = "cam-audit.evidence.faithfulness"

# Characters XML 1.0 cannot hold at all, even escaped.
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _clean(value) -> str:
    return _INVALID_XML.sub("\ufffd", str(value))


def write_junit(run_dir, summary: RunSummary) -> Path:
    """Write ``run_dir/junit.xml`` (atomically) and return its path.

    One ``<testcase classname="cam-audit.analysis.gates">`` per gate in ``summary.gates``; a failed
    gate has ``<failure message="value ..., threshold ...: reason">``. A gate whose figure had
    not enough samples to judge (outcome ``not_enough_samples``) is ``<skipped>`` when it
    passes (``gates.on_too_few: pass``: it was not judged) and a ``<failure
    type="NotEnoughSamples">`` when it fails. ``max_regression`` without a baseline run
    (outcome ``no_baseline``) is ``<skipped>`` too: it was not judged. Without gates, one
    passing test case "no gates configured". The ``<testsuite>`` carries the counts, the run
    id (as its ``id`` and as a property) and the run's verdict.
    """
    provenance = summary.provenance
    run_id = _clean(summary.run_id or provenance.run_id or "unnamed")
    duration = provenance.duration_s
    seconds = f"{duration:.3f}" if is_number(duration) else "0"
    cases = [(_clean(name), gate.passed, fmt_figure(gate.value), fmt_figure(gate.threshold),
              _clean(gate.reason), gate.outcome in ("not_enough_samples", "no_baseline"))
             for name, gate in summary.gates.items()]
    failures = sum(not c[1] for c in cases)
    skipped = sum(c[1] and c[5] for c in cases)

    suites = ET.Element("testsuites", name="cam-audit", tests=str(max(1, len(cases))),
                        failures=str(failures), errors="0", time=seconds)
    suite = ET.SubElement(
        suites, "testsuite", name="cam-audit.analysis.gates", id=run_id,
        tests=str(max(1, len(cases))), failures=str(failures), errors="0",
        skipped=str(skipped),
        time=seconds,
    )
    if provenance.finished_at:
        suite.set("timestamp", _clean(provenance.finished_at))
    host = getattr(provenance, "host", None)
    if host:
        suite.set("hostname", _clean(host))
    properties = ET.SubElement(suite, "properties")
    verdict = summary.verdict or (
        "no_verdict" if not cases and summary.passed is not False else
        None if summary.passed is None else "passed" if summary.passed else "failed")
    for key, value in (
        ("run_id", run_id),
        ("run_name", summary.run_name),
        ("verdict", verdict),
        ("model_sha256", provenance.model_sha256),
        ("manifest_sha256", provenance.manifest_sha256),
    ):
        if value is not None:
            ET.SubElement(properties, "property", name=key, value=_clean(value))

    if not cases:
        case = ET.SubElement(suite, "testcase", classname=CLASSNAME, name="no gates configured",
                             time="0")
        ET.SubElement(case, "system-out").text = (
            "No verdict: no gates configured; nothing was judged (exit code 0). Add "
            "thresholds under gates: to make the run pass or fail.")
    for name, passed, value, threshold, reason, too_few in cases:
        case = ET.SubElement(suite, "testcase", classname=CLASSNAME, name=name, time="0")
        text = f"value {value}, threshold {threshold}"
        message = f"{text}: {reason}" if reason else text
        if passed and too_few:
            ET.SubElement(case, "skipped", message=message)
        elif passed:
            ET.SubElement(case, "system-out").text = message
        else:
            kind = "NotEnoughSamples" if too_few else "GateFailed"
            failure = ET.SubElement(case, "failure", message=message, type=kind)
            failure.text = f"gate {name} failed\n{message}"
    _faithfulness_suite(suites, summary, run_id=run_id)
    ET.indent(suites)
    data = ET.tostring(suites, encoding="utf-8", xml_declaration=True) + b"\n"
    return atomic_write_bytes(Path(run_dir) / "junit.xml", data)


def _faithfulness_suite(suites: ET.Element, summary: RunSummary, *, run_id: str) -> None:
    """One ``faithfulness[<method>]`` case per method the faithfulness stage decided, in a
    suite ``cam-audit.evidence.faithfulness``: ``faithful`` passes; ``undecided`` and ``not
    faithful`` are ``<skipped>`` with the outcome first in the message. These cases report
    evidence and never fail: only gates decide the run (``gates.fixation_methods: trusted``
    is how a method that is not faithful fails one)."""
    decided = [(m, f.faithfulness) for m, f in sorted(summary.methods.items())
               if f.faithfulness is not None and f.faithfulness.outcome is not None]
    if not decided:
        return
    skipped = sum(f.outcome != "faithful" for _, f in decided)
    suite = ET.SubElement(suites, "testsuite", name=FAITHFULNESS_CLASSNAME, id=run_id,
                          tests=str(len(decided)), failures="0", errors="0",
                          skipped=str(skipped), time="0")
    for method, figures in decided:
        case = ET.SubElement(suite, "testcase", classname=FAITHFULNESS_CLASSNAME,
                             name=_clean(f"faithfulness[{method}]"), time="0")
        paired = figures.paired
        detail = []
        if paired is not None:
            for key, title in (("deletion_auc", "deletion"), ("insertion_auc", "insertion")):
                figure = getattr(paired, key)
                if figure.mean is not None:
                    detail.append(f"{title} {figure.mean:+.3f} vs random "
                                  f"(p {fmt_figure(figure.p_value)})")
        if figures.p_adjusted is not None:
            detail.append(f"Holm-adjusted p {fmt_figure(figures.p_adjusted)}")
        detail.append(f"n {figures.n}")
        if figures.outcome == "undecided" and figures.samples_to_decide:
            detail.append(f"about {figures.samples_to_decide} samples would decide")
        message = _clean(f"{figures.outcome}: {', '.join(detail)}")
        if figures.outcome == "faithful":
            ET.SubElement(case, "system-out").text = message
        else:
            ET.SubElement(case, "skipped", message=message)
