"""Errors that end a run, and the exit codes of the command line.

Every run-level problem raises a subclass of :class:`AuditError`. The command line turns it
into one clear message and exit code 2. Per-sample problems are not errors: the sample is
skipped and recorded (see :class:`audit.datasets.types.SkippedSample`).
"""

from enum import IntEnum

from audit.pipeline.errors import BadInput


class ExitCode(IntEnum):
    """What ``cam-audit`` exits with; each code means one thing."""

    PASSED = 0  #: the audit ran and every gate passed
    GATE_FAILED = 1  #: the audit ran and a gate failed
    BAD_INPUT = 2  #: bad configuration or input (or too many samples skipped)
    INTERNAL_ERROR = 3  #: an unexpected error: a defect, or a broken environment


class AuditError(BadInput):
    """A problem that stops the run. Its message names the file, key or layer at fault.

    A :class:`~audit.pipeline.errors.BadInput`: the pipeline's runner lets it through a stage
    unchanged."""

    exit_code = ExitCode.BAD_INPUT


class ConfigError(AuditError):
    """The configuration or a pipeline file is invalid."""


class ModelError(AuditError):
    """The model file cannot be loaded, or the model cannot be explained as asked."""


class DatasetError(AuditError):
    """The dataset manifest is unreadable, empty, or does not match the model."""
