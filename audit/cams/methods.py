"""The registry of CAM methods: the one place that says which methods exist.

Each method lives in its own module with its weights function and its :class:`CamMethod`;
this module lists them. Adding a method is one new module and one entry in ``_REGISTERED``:
the engine, the configuration and the reports read everything else from the registry.

Examples
--------
>>> METHOD_NAMES
('gradcam', 'gradcam++', 'xgradcam', 'hirescam', 'layercam', 'scorecam', 'eigencam', 'negative')
>>> get_method("gradcam++").title
'Grad-CAM++'
>>> ordered_methods(["negative", "custom", "gradcam"])
['gradcam', 'negative', 'custom']
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from types import MappingProxyType

from audit.cams.base import KINDS, CamMethod, Kind, WeightedActivations
from audit.cams.eigencam import EIGENCAM
from audit.cams.gradcam import GRADCAM
from audit.cams.gradcam_plus_plus import GRADCAM_PLUS_PLUS
from audit.cams.hirescam import HIRESCAM
from audit.cams.layercam import LAYERCAM
from audit.cams.negative import NEGATIVE
from audit.cams.scorecam import SCORECAM
from audit.cams.xgradcam import XGRADCAM

__all__ = ["DEFAULT_METHODS", "KINDS", "METHODS", "METHOD_NAMES", "CamMethod", "Kind",
           "UnknownMethodError", "WeightedActivations", "get_method", "make_registry",
           "ordered_methods"]

_REGISTERED = (GRADCAM, GRADCAM_PLUS_PLUS, XGRADCAM, HIRESCAM, LAYERCAM, SCORECAM, EIGENCAM,
               NEGATIVE)


def make_registry(methods: Iterable[CamMethod]) -> Mapping[str, CamMethod]:
    """A read-only ``name -> CamMethod`` mapping in display order (increasing ``order``).

    Raises ValueError when two methods share a name or an order.
    """
    methods = sorted(methods, key=lambda m: m.order)
    for attribute in ("name", "order"):
        values = [getattr(m, attribute) for m in methods]
        repeated = sorted({v for v in values if values.count(v) > 1}, key=str)
        if repeated:
            raise ValueError(f"CAM methods must have distinct {attribute}s; repeated: "
                             f"{', '.join(map(str, repeated))}.")
    return MappingProxyType({m.name: m for m in methods})


#: Every CAM method, ``name -> CamMethod``, in display order.
METHODS: Mapping[str, CamMethod] = make_registry(_REGISTERED)

#: The names of :data:`METHODS`, in display order.
METHOD_NAMES: tuple[str, ...] = tuple(METHODS)

#: The methods an audit computes when the configuration does not say; the others are opt-in.
DEFAULT_METHODS: tuple[str, ...] = ("gradcam", "gradcam++", "scorecam", "negative")


class UnknownMethodError(ValueError):
    """A name that is not in the registry.

    Attributes
    ----------
    received : object
        The name asked for.
    allowed : tuple of str
        The registered names, in display order.
    suggestion : str or None
        The closest registered name, if one is close.
    """

    def __init__(self, received, allowed: Iterable[str]):
        self.received = received
        self.allowed = tuple(allowed)
        close = (difflib.get_close_matches(received, self.allowed, n=1)
                 if isinstance(received, str) else [])
        self.suggestion = close[0] if close else None
        super().__init__(f"Unknown CAM method; got {received!r}. {self.hint}")

    @property
    def hint(self) -> str:
        """``"Did you mean 'x'? Allowed: a, b."``: the part of the message after the value."""
        guess = f"Did you mean {self.suggestion!r}? " if self.suggestion else ""
        return f"{guess}Allowed: {', '.join(self.allowed)}."


def get_method(name: str, *, registry: Mapping[str, CamMethod] | None = None) -> CamMethod:
    """The :class:`CamMethod` called ``name``.

    Parameters
    ----------
    name : str
    registry : mapping, optional, keyword-only
        Where to look; :data:`METHODS` by default.

    Raises
    ------
    UnknownMethodError
        A ``ValueError`` naming what was received, the closest name and every allowed one.

    Examples
    --------
    >>> get_method("scorecam").kind
    'perturbation'
    >>> try:
    ...     get_method("gradcam+")
    ... except ValueError as exc:
    ...     print(exc.suggestion)
    gradcam++
    """
    registry = METHODS if registry is None else registry
    try:
        return registry[name]
    except (KeyError, TypeError):
        raise UnknownMethodError(name, registry) from None


def ordered_methods(names: Iterable[str]) -> list[str]:
    """``names`` in registry (display) order, unknown names after them, sorted; no repeats.

    Examples
    --------
    >>> ordered_methods(["scorecam", "zeta", "gradcam", "alpha", "gradcam"])
    ['gradcam', 'scorecam', 'alpha', 'zeta']
    """
    names = list(dict.fromkeys(str(n) for n in names))
    return [m for m in METHODS if m in names] + sorted(n for n in names if n not in METHODS)
