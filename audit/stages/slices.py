"""Stage ``slices``: each sample's value of the columns the configured slices name, read from
the manifest before any image is, so that a column the manifest lacks stops the run at once."""

from __future__ import annotations

from audit.analysis.slices import SliceKeys, extract_slice_keys
from audit.datasets import DatasetManifest
from audit.errors import ConfigError


def slices(slices: list[list[str]], manifest: DatasetManifest) -> SliceKeys:
    """The slice keys of every sample of ``manifest`` (none configured: no columns).

    Raises
    ------
    ConfigError
        When a configured column is on no sample of the manifest; the message names it and
        lists the columns there are (see :func:`audit.analysis.slices.extract_slice_keys`);
        or when slices are configured for a multi-label model (not supported yet).
    """
    if slices and manifest.samples and manifest.samples[0].label_set is not None:
        raise ConfigError("slices do not support multi-label models yet; leave the top-level "
                          "slices key out, or audit a single-label model")
    return extract_slice_keys(manifest, slices)
