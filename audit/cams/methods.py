"""The registry of CAM methods: what each method is, in one place.

Interim version (the engine is being moved onto it): names, titles, kinds and display order.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from types import MappingProxyType

__all__ = ["METHODS", "METHOD_NAMES", "CamMethod", "get_method", "ordered_methods"]


@dataclass(frozen=True)
class CamMethod:
    """What a CAM method is.

    Attributes
    ----------
    name : str
        The name configuration files use.
    title : str
        The name people read.
    kind : str
        ``"gradient"``, ``"perturbation"`` or ``"counter-evidence"``.
    fixation : bool
        Its maps get a background-fixation flag and are gated (not counter-evidence).
    order : int
        Display order.
    """

    name: str
    title: str
    kind: str
    fixation: bool
    order: int


METHODS = MappingProxyType({m.name: m for m in (
    CamMethod("gradcam", "Grad-CAM", "gradient", True, 0),
    CamMethod("gradcam++", "Grad-CAM++", "gradient", True, 1),
    CamMethod("scorecam", "Score-CAM", "perturbation", True, 2),
    CamMethod("negative", "Negative evidence", "counter-evidence", False, 3),
)})

METHOD_NAMES: tuple[str, ...] = tuple(METHODS)


def get_method(name: str) -> CamMethod:
    """The registered method ``name``; ``ValueError`` naming the allowed ones otherwise."""
    try:
        return METHODS[name]
    except (KeyError, TypeError):
        guess = difflib.get_close_matches(str(name), METHOD_NAMES, n=1)
        hint = f" Did you mean '{guess[0]}'?" if guess else ""
        raise ValueError(f"Unknown CAM method {name!r}.{hint} Allowed: "
                         f"{', '.join(METHOD_NAMES)}.") from None


def ordered_methods(names) -> list[str]:
    """``names`` in registry order; unknown names after them, sorted."""
    names = list(dict.fromkeys(str(n) for n in names))
    known = sorted((n for n in names if n in METHODS), key=lambda n: METHODS[n].order)
    return known + sorted(n for n in names if n not in METHODS)
