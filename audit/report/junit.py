"""``junit.xml``: one test case per gate, so a CI system shows the verdict as test results."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from audit.io import atomic_write_bytes

__all__ = ["CLASSNAME", "write_junit"]

CLASSNAME = "cam-audit.gates"

# Characters XML 1.0 cannot hold at all, even escaped.
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _clean(value) -> str:
    return _INVALID_XML.sub("\ufffd", str(value))


def _figure(value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else "n/a"
    return _clean(value)


def write_junit(run_dir, summary: dict) -> Path:
    """Write ``run_dir/junit.xml`` (atomically) and return its path.

    One ``<testcase classname="cam-audit.gates">`` per gate in ``summary["gates"]``
    (``{name: {value, threshold, passed, reason}}``); a gate whose ``passed`` is not ``True``
    fails with ``<failure message="value ..., threshold ...: reason">``. Without gates, one
    passing test case "no gates configured". The ``<testsuite>`` carries the counts, the run
    id (as its ``id`` and as a property) and the run's verdict.
    """
    summary = summary if isinstance(summary, dict) else {}
    gates = summary.get("gates") if isinstance(summary.get("gates"), dict) else {}
    provenance = summary.get("provenance") if isinstance(summary.get("provenance"), dict) else {}
    run_id = _clean(summary.get("run_id") or provenance.get("run_id") or "unnamed")
    duration = provenance.get("duration_s")
    seconds = f"{float(duration):.3f}" if isinstance(duration, int | float) and not isinstance(
        duration, bool) and math.isfinite(float(duration)) else "0"

    cases = []
    for name, gate in gates.items():
        gate = gate if isinstance(gate, dict) else {"value": gate}
        passed = gate.get("passed") is True
        value, threshold = _figure(gate.get("value")), _figure(gate.get("threshold"))
        reason = _clean(gate.get("reason") or "")
        cases.append((_clean(name), passed, value, threshold, reason))
    failures = sum(not c[1] for c in cases)

    suites = ET.Element("testsuites", name="cam-audit", tests=str(max(1, len(cases))),
                        failures=str(failures), errors="0", time=seconds)
    suite = ET.SubElement(
        suites, "testsuite", name="cam-audit.gates", id=run_id,
        tests=str(max(1, len(cases))), failures=str(failures), errors="0", skipped="0",
        time=seconds,
    )
    finished = provenance.get("finished_at")
    if finished:
        suite.set("timestamp", _clean(finished))
    if provenance.get("host"):
        suite.set("hostname", _clean(provenance["host"]))
    properties = ET.SubElement(suite, "properties")
    passed_run = summary.get("passed")
    for key, value in (
        ("run_id", run_id),
        ("run_name", summary.get("run_name")),
        ("verdict", "passed" if passed_run is True else "failed" if passed_run is False else None),
        ("model_sha256", provenance.get("model_sha256")),
        ("manifest_sha256", provenance.get("manifest_sha256")),
    ):
        if value is not None:
            ET.SubElement(properties, "property", name=key, value=_clean(value))

    if not cases:
        ET.SubElement(suite, "testcase", classname=CLASSNAME, name="no gates configured",
                      time="0")
    for name, passed, value, threshold, reason in cases:
        case = ET.SubElement(suite, "testcase", classname=CLASSNAME, name=name, time="0")
        text = f"value {value}, threshold {threshold}"
        if passed:
            out = ET.SubElement(case, "system-out")
            out.text = f"{text}: {reason}" if reason else text
        else:
            message = f"{text}: {reason}" if reason else text
            failure = ET.SubElement(case, "failure", message=message, type="GateFailed")
            failure.text = f"gate {name} failed\n{message}"
    ET.indent(suites)
    data = ET.tostring(suites, encoding="utf-8", xml_declaration=True) + b"\n"
    return atomic_write_bytes(Path(run_dir) / "junit.xml", data)
