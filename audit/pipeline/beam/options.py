"""Beam pipeline options as a user types them, checked by Beam's own parser."""

from __future__ import annotations

import contextlib
import difflib
import io
from collections.abc import Sequence

from apache_beam.options.pipeline_options import (
    PipelineOptions,
    PortableOptions,
    StandardOptions,
)

from audit.pipeline.errors import PipelineError

# --------------------------------------------------------------------------------- options


def pipeline_options(flags: Sequence[str], *, where: str = "beam.options") -> PipelineOptions:
    """Beam's ``PipelineOptions`` for ``flags`` as a user types them, checked by Beam's parser.

    Raises
    ------
    PipelineError
        Naming ``where``: a flag Beam's parser refuses (a bad value), a flag no Beam options
        class defines (with a "did you mean"), a stray value, or an unknown runner.
    """
    flags = [str(flag) for flag in flags]
    stray = [f for i, f in enumerate(flags)
             if not f.startswith("--") and (i == 0 or not flags[i - 1].startswith("--")
                                            or "=" in flags[i - 1])]
    if stray:
        raise PipelineError(f"{where}: {stray[0]!r} is not a flag; write flags as on a command "
                          f"line, e.g. --runner=DirectRunner; got {flags}.")
    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured):
            options = PipelineOptions(flags)
            known = options.get_all_options()
            everything = options.get_all_options(retain_unknown_options=True)
    except SystemExit:  # argparse's way of refusing a value
        message = captured.getvalue().strip().splitlines()
        raise PipelineError(f"{where}: Beam refused the flags: "
                          f"{message[-1] if message else 'invalid'}; got {flags}.") from None
    unknown = [name for name in everything if name not in known]
    if unknown:
        guess = difflib.get_close_matches(unknown[0], list(known), n=1)
        hint = f" Did you mean '--{guess[0]}'?" if guess else ""
        raise PipelineError(f"{where}: Beam has no option "
                            f"{', '.join('--' + name for name in unknown)}.{hint} Each flag "
                            f"must be one of Beam's options; got {flags}")
    runner = options.view_as(StandardOptions).runner or "DirectRunner"
    try:
        from apache_beam.runners.runner import create_runner

        create_runner(runner)
    except (ValueError, ImportError) as exc:
        raise PipelineError(f"{where}: --runner={runner}: {exc}") from None
    return options


def _runner_name(options: PipelineOptions) -> str:
    return options.view_as(StandardOptions).runner or "DirectRunner"


def _local_workers(options: PipelineOptions) -> bool:
    """Whether the job's workers run on this machine (so they can use its disk)."""
    runner = _runner_name(options).lower().replace("runner", "")
    environment = (options.view_as(PortableOptions).environment_type or "").upper()
    return runner in ("direct", "switchingdirect", "bundlebaseddirect") or environment in (
        "LOOPBACK", "PROCESS")
