"""Moved to :mod:`audit.validation` (the package's one set of input checks); kept so that
older imports still work."""

from audit.validation import *  # noqa: F403
from audit.validation import real_array as _real_array  # noqa: F401
