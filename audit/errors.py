"""Errors that end a run.

Every run-level problem raises a subclass of :class:`AuditError`. The command line turns it
into one clear message and exit code 2. Per-sample problems are not errors: the sample is
skipped and recorded (see :class:`audit.datasets.types.SkippedSample`).
"""


class AuditError(Exception):
    """A problem that stops the run. Its message names the file, key or layer at fault."""

    exit_code = 2


class ConfigError(AuditError):
    """The configuration or a pipeline file is invalid."""


class ModelError(AuditError):
    """The model file cannot be loaded, or the model cannot be explained as asked."""


class DatasetError(AuditError):
    """The dataset manifest is unreadable, empty, or does not match the model."""
