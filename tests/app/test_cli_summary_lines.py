"""What `cam-audit run` prints after a run: one line per method in the report's order, with
the method's checks (faithfulness outcome, sanity) where the evidence stages ran."""

from __future__ import annotations

from types import SimpleNamespace

from run_builders import make_records, make_summary

from audit.app.cli import _print_summary
from audit.cams.methods import ordered_methods
from audit.summary import FaithfulnessFigures, SanityFigures


def _lines(summary, tmp_path, capsys) -> list[str]:
    _print_summary(SimpleNamespace(summary=summary, run_dir=tmp_path))
    return [line.strip() for line in capsys.readouterr().out.splitlines()
            if "background fixation" in line]


def test_methods_are_printed_in_the_reports_order_with_their_checks(tmp_path, capsys):
    summary = make_summary(make_records(40))
    methods = dict(reversed(list(summary.methods.items())))  # not the display order
    first = ordered_methods(summary.methods)[0]
    methods[first] = methods[first].model_copy(update={
        "faithfulness": FaithfulnessFigures(n=40, outcome="undecided"),
        "sanity": SanityFigures(n=8, passed=False)})
    lines = _lines(summary.model_copy(update={"methods": methods}), tmp_path, capsys)
    assert [line.split()[0] for line in lines] == ordered_methods(summary.methods)
    assert ordered_methods(summary.methods)[-1] == "negative"  # counter-evidence last
    assert lines[0].endswith("; undecided, not sane")
    assert all(")" == line[-1] for line in lines[1:])  # no evidence stages: no checks


def test_a_faithful_and_sane_method_says_so(tmp_path, capsys):
    summary = make_summary(make_records(40))
    name = ordered_methods(summary.methods)[0]
    methods = dict(summary.methods)
    methods[name] = methods[name].model_copy(update={
        "faithfulness": FaithfulnessFigures(n=16, outcome="faithful"),
        "sanity": SanityFigures(n=8, passed=True)})
    lines = _lines(summary.model_copy(update={"methods": methods}), tmp_path, capsys)
    assert lines[0].startswith(name) and lines[0].endswith("; faithful, sane")
