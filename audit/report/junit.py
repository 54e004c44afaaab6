"""``junit.xml``: one test case per gate, so a CI system shows the verdict as test results."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from audit.io import atomic_write_bytes
from audit.report.format import fmt_figure, is_number
from audit.summary import RunSummary

__all__ = ["CLASSNAME", "write_junit"]

CLASSNAME = "cam-audit.analysis.gates"

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
    verdict = None if summary.passed is None else "passed" if summary.passed else "failed"
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
        ET.SubElement(suite, "testcase", classname=CLASSNAME, name="no gates configured",
                      time="0")
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
    ET.indent(suites)
    data = ET.tostring(suites, encoding="utf-8", xml_declaration=True) + b"\n"
    return atomic_write_bytes(Path(run_dir) / "junit.xml", data)
