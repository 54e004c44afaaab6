"""Stage ``gate``: thresholds on the summary -> a verdict."""

from __future__ import annotations

from audit.gates import evaluate_gates
from audit.pipeline.stage import stage


@stage("gate", inputs=("config", "summary"), outputs=("verdict",), config_section="gates")
def gate_stage(config, summary):
    """``{"gates": {...}, "passed": bool}``: passed when every configured gate passes."""
    gates = evaluate_gates(summary, config.gates)
    return {"gates": gates, "passed": all(g["passed"] for g in gates.values())}
