"""summary.md: the verdict, failed gates, at-a-glance table and flagged changes in Markdown."""

from __future__ import annotations

from run_builders import HOSTILE_CLASS, make_records, make_summary

from audit.report.markdown import markdown_summary, md_text, write_markdown
from audit.summary import Change


def test_summary_md_has_the_verdict_failed_gates_glance_and_changes(tmp_path):
    summary = make_summary(make_records(40))
    summary = summary.model_copy(update={
        "baseline_run_id": "run-1",
        "changes": [Change(figure="accuracy", assessment="regression", before=0.95, after=0.8,
                           difference=-0.15, ci=(-0.2, -0.1))]})
    text = write_markdown(tmp_path, summary, fixation_limit=0.01).read_text()
    assert text.startswith("## ❌ cam-audit: FAILED")
    assert "### Failed gates" in text and "`min_accuracy`" in text
    # a passed gate is not listed among the failed ones
    assert "max_background_fixation_rate" not in text.split("### At a glance")[0]
    glance = text.split("### At a glance")[1].split("###")[0]
    assert sum(line.startswith("|") for line in glance.splitlines()) == 2 + 4  # + a row a method
    assert "| Grad-CAM |" in glance and "⚠️" in glance  # above the fixation gate
    assert "- 🔻 regression: accuracy 95.0% → 80.0%" in text
    assert len(text.splitlines()) < 40


def test_summary_md_escapes_user_text():
    summary = make_summary(make_records(20), gates={
        "min_accuracy": {"value": 0.5, "threshold": 0.9, "passed": False,
                         "reason": f"class {HOSTILE_CLASS} | [link](http://x)"}})
    text = markdown_summary(summary)
    assert "<script>" not in text and "&lt;script&gt;" in text
    row = next(line for line in text.splitlines() if "`min_accuracy`" in line)
    assert row.count(" | ") == 3  # the reason's pipe stays inside its cell
    assert "\\[link\\](http://x)" in row
    assert md_text("*bold* _it_") == "\\*bold\\* \\_it\\_"


def test_summary_md_of_a_run_without_gates_says_no_verdict():
    summary = make_summary(make_records(20), gates={}, passed=True)
    text = markdown_summary(summary)
    assert text.startswith("## ❔ cam-audit: NO VERDICT") and "no gates configured" in text
    assert "Failed gates" not in text and "Flagged changes" not in text


def test_summary_md_shows_each_methods_checks_and_the_faithfulness_sentence():
    """A reviewer reading only summary.md sees which fixation figures rest on a faithful and
    sane map, as the report's at-a-glance badges say."""
    from audit.summary import FaithfulnessFigures, FaithfulnessRun, SanityFigures

    summary = make_summary(make_records(40))
    methods = dict(summary.methods)
    first, *rest = list(methods)
    methods[first] = methods[first].model_copy(update={
        "faithfulness": FaithfulnessFigures(n=40, outcome="faithful"),
        "sanity": SanityFigures(n=8, passed=True)})
    for name in rest:
        methods[name] = methods[name].model_copy(update={
            "faithfulness": FaithfulnessFigures(n=40, outcome="undecided"),
            "sanity": SanityFigures(n=8, passed=False)})
    summary = summary.model_copy(update={"methods": methods, "faithfulness": FaithfulnessRun(
        alpha=0.05, n_available=40, n_used=40, n_faithful=1, n_undecided=len(rest),
        samples_to_decide=180)})
    text = markdown_summary(summary)
    assert "faithfulness.max\\_samples: 180 would likely decide" in text
    glance = text.split("### At a glance")[1].split("###")[0].splitlines()
    assert glance[2].endswith("| checks |")
    rows = [line for line in glance if line.startswith("| ") and "---" not in line][1:]
    assert rows[0].endswith("| faithful, sane |")
    assert all(row.endswith("| undecided, not sane |") for row in rows[1:])


def test_summary_md_has_no_checks_column_without_the_evidence_stages():
    text = markdown_summary(make_summary(make_records(40)))
    assert "| checks |" not in text and "would likely decide" not in text
