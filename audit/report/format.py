"""How the report pages write figures: every formatting rule, once.

Undefined figures (``None``, and NaN should one slip through) are written as :data:`NA`.
The Jinja2 environment offers the number formats as filters too (see
:mod:`audit.report.templating`), for templates that override the built-in ones.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from numbers import Integral, Real

__all__ = [
    "NA",
    "OUTCOME_BADGE",
    "fmt_ci",
    "fmt_count",
    "fmt_delta",
    "fmt_duration",
    "fmt_figure",
    "fmt_num",
    "fmt_p",
    "fmt_test",
    "fmt_pct",
    "fmt_text",
    "fmt_time",
    "fmt_value",
    "is_number",
]

#: The badge class of each faithfulness outcome: only "not faithful" is shown as a failure;
#: "undecided" is neutral (the data did not decide, which is not a finding against the map).
OUTCOME_BADGE = {"faithful": "pass", "not faithful": "fail", "undecided": "info"}

#: What an undefined figure shows as.
NA = "n/a"


def is_number(value) -> bool:
    """True for a finite real number (not bool, not None, not NaN).

    >>> is_number(0.5), is_number(None), is_number(float("nan")), is_number(True)
    (True, False, False, False)
    """
    if isinstance(value, bool) or not isinstance(value, Real):
        return False
    return math.isfinite(float(value))


def fmt_pct(value, digits: int = 1) -> str:
    """A share as a percentage.

    >>> fmt_pct(0.7123), fmt_pct(0.7123, 0), fmt_pct(None)
    ('71.2%', '71%', 'n/a')
    """
    if not is_number(value):
        return NA
    return f"{100.0 * float(value):.{digits}f}%"


def fmt_num(value, digits: int = 3) -> str:
    """A number with ``digits`` decimals; integers as they are.

    >>> fmt_num(1.23456), fmt_num(7), fmt_num(None)
    ('1.235', '7', 'n/a')
    """
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Integral):
        return str(int(value))
    if not is_number(value):
        return NA
    return f"{float(value):.{digits}f}"


def fmt_figure(value) -> str:
    """A figure to 4 significant digits, as gates state their values and thresholds.

    >>> fmt_figure(0.71234), fmt_figure(3.0), fmt_figure(None)
    ('0.7123', '3', 'n/a')
    """
    return f"{float(value):.4g}" if is_number(value) else NA


def fmt_count(value) -> str:
    """An integer with thousands separators.

    >>> fmt_count(12345), fmt_count(None)
    ('12,345', 'n/a')
    """
    if not is_number(value):
        return NA
    return f"{int(value):,}"


def fmt_value(value, kind: str = "num") -> str:
    """A figure in the unit of its ``kind``: ``"pct"`` (a share) or ``"num"``."""
    return fmt_pct(value) if kind == "pct" else fmt_num(value)


def fmt_ci(ci: tuple[float, float] | None, kind: str = "num") -> str:
    """A 95% interval; undefined -> ``""`` (the interval is left out, not written n/a).

    >>> fmt_ci((0.65, 0.77), "pct"), fmt_ci(None)
    ('65.0% – 77.0%', '')
    """
    if ci is None or not (is_number(ci[0]) and is_number(ci[1])):
        return ""
    return f"{fmt_value(ci[0], kind)} – {fmt_value(ci[1], kind)}"


def fmt_delta(value, kind: str = "num") -> str:
    """A signed difference: percentage points for shares, plain numbers otherwise.

    >>> fmt_delta(-0.031, "pct"), fmt_delta(0.0001), fmt_delta(None)
    ('-3.1 pp', '±0.000', 'n/a')
    """
    if not is_number(value):
        return NA
    value = float(value)
    if kind == "pct":
        points = 100.0 * value
        return "±0.0 pp" if round(points, 1) == 0 else f"{points:+.1f} pp"
    return "±0.000" if round(value, 3) == 0 else f"{value:+.3f}"


def fmt_p(value) -> str:
    """A p-value: three decimals, or two significant digits below 0.001.

    >>> fmt_p(0.14599), fmt_p(3.009e-36), fmt_p(1.0), fmt_p(None)
    ('p = 0.146', 'p = 3.0e-36', 'p = 1.000', 'n/a')
    """
    if not is_number(value):
        return NA
    value = float(value)
    return f"p = {value:.3f}" if value >= 0.001 else f"p = {value:.1e}"


def fmt_test(p_value, interval, kind: str = "num") -> str:
    """A test's result: its p-value, else the 95% interval of the change, else ``""``.

    >>> fmt_test(3.009e-36, None), fmt_test(None, (-0.999, -0.943), "pct"), fmt_test(None, None)
    ('p = 3.0e-36', '95% CI -99.9 pp to -94.3 pp', '')
    """
    if p_value is not None:
        return fmt_p(p_value)
    if interval is not None:
        low, high = (fmt_delta(v, kind) for v in interval)
        return f"95% CI {low} to {high}"
    return ""


def fmt_time(value: str | None) -> str:
    """An ISO 8601 timestamp with its offset; other text as it is.

    >>> fmt_time("2026-11-25T21:34:10+00:00"), fmt_time("2026-11-25T21:34:10+01:00")
    ('2026-11-25 21:34:10 UTC', '2026-11-25 21:34:10 +01:00')
    >>> fmt_time("yesterday"), fmt_time(None)
    ('yesterday', 'n/a')
    """
    if not value:
        return NA
    try:
        moment = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    offset = moment.utcoffset()
    if offset is None:
        return text
    if offset == _dt.timedelta(0):
        return f"{text} UTC"
    return f"{text} {moment.strftime('%z')[:3]}:{moment.strftime('%z')[3:]}"


def fmt_duration(seconds: float | None) -> str:
    """Seconds, with minutes and hours spelt out from a minute on.

    >>> fmt_duration(42.25), fmt_duration(250.4), fmt_duration(None)
    ('42.2 s', '250 s (4 min 10 s)', 'n/a')
    """
    if not is_number(seconds):
        return NA
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    words = f"{hours} h {minutes} min" if hours else f"{minutes} min {rest} s"
    return f"{seconds:,.0f} s ({words})"


def fmt_text(value) -> str:
    """Any recorded value as display text (escaping is the template's job): a provenance
    entry of any JSON type, a name, a path.

    >>> fmt_text(None), fmt_text(True), fmt_text(0.1 + 0.2), fmt_text([224, 224])
    ('n/a', 'yes', '0.3', '[224, 224]')
    """
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return NA
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, default=str, ensure_ascii=False)
    return str(value)
