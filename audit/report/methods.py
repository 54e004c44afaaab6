"""What the report needs to know about a CAM method, read from :mod:`audit.cams.methods`.

The registry is the only place that says what a method is; these two lookups also answer for
a name it does not know (a summary written by another cam-audit version): its name as title,
and an explanation of the decision, like the gradient and perturbation methods.
"""

from __future__ import annotations

from audit.cams.methods import METHODS

__all__ = ["is_counter_evidence", "method_title"]


def method_title(name: str) -> str:
    """The name people read: ``"gradcam"`` -> ``"Grad-CAM"``; an unknown name as it is.

    >>> method_title("gradcam++"), method_title("lime")
    ('Grad-CAM++', 'lime')
    """
    method = METHODS.get(name)
    return method.title if method is not None else name


def is_counter_evidence(name: str) -> bool:
    """True for a method whose maps show evidence *against* a class (negative evidence).

    Its figures have no better direction (a change is shown, never flagged), it is left out of
    method agreement and of the gates, and the report marks it with a badge.

    >>> is_counter_evidence("negative"), is_counter_evidence("gradcam")
    (True, False)
    """
    method = METHODS.get(name)
    return method is not None and method.kind == "counter-evidence"
