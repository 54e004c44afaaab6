"""The configuration as run, written out as YAML for the report's last section."""

from __future__ import annotations

__all__ = ["config_yaml"]


def config_yaml(config: dict) -> str:
    """``config`` (plain data: ``AuditConfig.resolved_dump()``) as block-style YAML, keys in
    their order.

    >>> print(config_yaml({"run_name": "demo", "metrics": {"loc_min_iou": 0.5}}), end="")
    run_name: demo
    metrics:
      loc_min_iou: 0.5
    """
    from audit.safe_yaml import dump_yaml

    return dump_yaml(config, sort_keys=False, allow_unicode=True, default_flow_style=False,
                          width=100)
