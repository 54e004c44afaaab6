"""The pipeline core's own exceptions. It knows no application: the caller maps them to what it
reports (``audit.app`` to its exit codes)."""

from __future__ import annotations

__all__ = ["BadInput", "PipelineError", "RunFolderError", "StageError"]


class BadInput(Exception):  # noqa: N818 (a kind of input, as the runner sees it)
    """A refusal of the input (configuration, data, a pipeline file): the runner lets it through
    unchanged, while any other exception of a stage becomes a :class:`StageError`. An
    application's own errors for bad input derive from it (``audit.errors.AuditError``)."""


class PipelineError(BadInput):
    """The pipeline cannot run as given: a pipeline file or stage table that does not fit
    together, an engine's options that do not fit the run."""


class RunFolderError(PipelineError):
    """A folder that is not a run folder, an unreadable status, or a run that cannot resume."""


class StageError(Exception):
    """A stage failed with an unexpected exception: a defect or an environment problem, not
    bad input (bad input raises :class:`BadInput`).

    Attributes
    ----------
    stage : str
        The stage's name.
    error : BaseException
        What it raised (also the ``__cause__``).
    """

    def __init__(self, stage: str, error: BaseException):
        super().__init__(f"stage '{stage}' failed: {type(error).__name__}: {error}")
        self.stage = stage
        self.error = error

    def __reduce__(self):  # picklable, so it can cross from an engine's worker process
        return type(self), (self.stage, self.error)
