"""Where the report templates live, and the Jinja2 environment that renders them.

Templates are Jinja2 files in ``templates/`` at the repository root. Autoescaping is on for
every template, so any user text (class names, file names, config values, reasons) comes out
as text, never as markup. Nothing in the report is marked ``|safe``: images are embedded as
``data:`` URIs built from bytes by :mod:`audit.report.images`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from audit.report.format import fmt_ci, fmt_count, fmt_delta, fmt_num, fmt_pct, fmt_time, fmt_value

__all__ = ["TEMPLATES_ENV_VAR", "render", "templates_dir"]

#: Environment variable naming a folder of templates that overrides the built-in ones.
TEMPLATES_ENV_VAR = "CAM_AUDIT_TEMPLATES"

_MARKER = "report.html.j2"


def templates_dir() -> Path:
    """The folder of the report templates.

    In order: the folder named by ``$CAM_AUDIT_TEMPLATES``; ``templates/`` at the root of the
    source tree the ``audit`` package sits in; ``<sys.prefix>/share/cam-audit/templates`` (an
    installed package's data files).

    Raises
    ------
    FileNotFoundError
        If none of these folders holds ``report.html.j2`` (or the environment variable names
        a folder without it), naming every place looked at.
    """
    override = os.environ.get(TEMPLATES_ENV_VAR)
    if override:
        folder = Path(override).expanduser()
        if (folder / _MARKER).is_file():
            return folder
        raise FileNotFoundError(
            f"${TEMPLATES_ENV_VAR} is {override!r}, but {folder / _MARKER} does not exist; "
            f"point it at a folder holding the cam-audit templates or unset it"
        )
    candidates = [
        Path(__file__).resolve().parents[2] / "templates",
        Path(sys.prefix) / "share" / "cam-audit" / "templates",
    ]
    for folder in candidates:
        if (folder / _MARKER).is_file():
            return folder
    looked = ", ".join(str(c) for c in candidates)
    raise FileNotFoundError(
        f"cannot find the cam-audit report templates ({_MARKER}); looked in {looked}. "
        f"Set ${TEMPLATES_ENV_VAR} to the folder holding them"
    )


def _environment(folder: Path):
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)),
        autoescape=True,  # every template, whatever its extension
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    # The number formats, for templates that override the built-in ones ($CAM_AUDIT_TEMPLATES).
    env.filters.update(
        pct=fmt_pct, num=fmt_num, ci=fmt_ci, count=fmt_count, value=fmt_value, delta=fmt_delta,
        time=fmt_time,
    )
    return env


def render(name: str, **context) -> str:
    """Render the template ``name`` from :func:`templates_dir` with autoescaping on."""
    return _environment(templates_dir()).get_template(name).render(**context)
