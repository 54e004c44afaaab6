"""The error of one sample: it is skipped with its reason and the run goes on."""

from __future__ import annotations

__all__ = ["SampleError"]


class SampleError(ValueError):
    """A problem with one sample or one manifest entry: it is skipped and the run goes on.

    The checks of labels, boxes and masks raise a subclass; the code that forms samples
    (:func:`audit.datasets.manifest.build_manifest`) or reads images
    (:class:`audit.datasets.stream.BatchLoader`) catches it and records a
    :class:`SkippedSample` with :attr:`reason`, prefixed by the entry's place in the manifest
    when the check could not know it (a label check does not know its line).

    Parameters
    ----------
    reason : str
        What is wrong, in words a person understands.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
