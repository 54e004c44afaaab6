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
    if is_dask(_runner_flag(flags)):
        _import_dask_runner(where)  # its --dask_* flags are known once the runner is imported
        # Beam 2.77 does not list the Dask runner among its known names: give its path.
        flags = [_dask_path(f) for f in flags]
        if not any(f.startswith(("--dask_partition_size", "--dask_npartitions"))
                   for f in flags):
            flags.append("--dask_partition_size=1")  # one item a partition: every worker busy
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


#: What ``engine: beam`` with the Dask runner needs besides Beam.
DASK_INSTALL = 'pip install "cam-audit[beam]" (apache-beam and dask[distributed])'


def is_dask(runner: str | None) -> bool:
    """Whether ``runner`` names Beam's Dask runner (``DaskRunner``, or its module path)."""
    return bool(runner) and runner.rsplit(".", 1)[-1].lower() in ("daskrunner", "dask")


DASK_RUNNER = "apache_beam.runners.dask.dask_runner.DaskRunner"


def _dask_path(flag: str) -> str:
    if flag.startswith("--runner=") and is_dask(flag.split("=", 1)[1]):
        return f"--runner={DASK_RUNNER}"
    return DASK_RUNNER if is_dask(flag) and not flag.startswith("--") else flag


def _runner_flag(flags: Sequence[str]) -> str | None:
    name = None
    for i, flag in enumerate(flags):
        if flag.startswith("--runner="):
            name = flag.split("=", 1)[1]
        elif flag == "--runner" and i + 1 < len(flags):
            name = flags[i + 1]
    return name


def _import_dask_runner(where: str) -> None:
    try:
        import apache_beam.runners.dask.dask_runner  # noqa: F401 - registers DaskOptions
        import dask.distributed  # noqa: F401
    except ImportError as exc:
        raise PipelineError(f"{where}: --runner=DaskRunner needs Dask's distributed scheduler, "
                          f"which is not installed ({exc}): {DASK_INSTALL}.") from None


def _dask_address(options: PipelineOptions) -> str | None:
    return options.get_all_options().get("address")


def _runner_name(options: PipelineOptions) -> str:
    name = options.view_as(StandardOptions).runner or "DirectRunner"
    return "DaskRunner" if is_dask(name) else name


def _local_workers(options: PipelineOptions) -> bool:
    """Whether the job's workers run on this machine (so they can use its disk)."""
    runner = _runner_name(options).lower().replace("runner", "")
    environment = (options.view_as(PortableOptions).environment_type or "").upper()
    if is_dask(_runner_name(options)):
        # No address: the runner starts a LocalCluster here; else the scheduler's host.
        address = _dask_address(options)
        return address is None or _is_this_host(address)
    return runner in ("direct", "switchingdirect", "bundlebaseddirect") or environment in (
        "LOOPBACK", "PROCESS")


def _is_this_host(address: str) -> bool:
    """Whether a scheduler address (``tcp://127.0.0.1:8786``) is on this machine.

    >>> _is_this_host("tcp://127.0.0.1:8786"), _is_this_host("tcp://10.1.2.3:8786")
    (True, False)
    """
    import socket
    from urllib.parse import urlsplit

    host = urlsplit(address if "://" in address else f"tcp://{address}").hostname or ""
    return host in ("127.0.0.1", "localhost", "::1", socket.gethostname(),
                    socket.getfqdn()) or host.startswith("127.")
