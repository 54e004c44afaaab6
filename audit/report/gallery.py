"""What the report's background-fixation gallery shows: typed items, made by the report stage.

The report stage picks the misclassified samples whose predicted-class maps put the most
energy on the background, re-explains just those (a pure function of model and batch, so
no map is kept in memory during the run) and hands these items to the renderer.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Panel:
    """One picture of a gallery row: an image or a CAM overlaid on it, as PNG bytes."""

    title: str  # e.g. "image", "gradcam: predicted 'wolf'", "gradcam: negative evidence"
    png: bytes
    method: str | None = None  # None for the plain image with its boxes
    target: str | None = None  # "predicted", "true" or "negative"
    figures: dict[str, float | None] = field(default_factory=dict)  # energy_in_box, enrichment


@dataclass(frozen=True)
class GalleryItem:
    """A misclassified sample with its maps, method by method."""

    sample_id: str
    image: str
    label: str
    predicted: str
    confidence: float
    background_energy: float  # 1 - energy_in_box of the first method's predicted-class map
    panels: list[Panel] = field(default_factory=list)


@dataclass(frozen=True)
class EditedPicture:
    """One picture of the behavioural test: the image, or an edited copy, with what the model
    decided on it."""

    title: str  # "image", "object removed", "background removed"
    png: bytes
    caption: str  # e.g. "predicted wolf (97%)"


@dataclass(frozen=True)
class BehaviourItem:
    """A misclassified sample shown with its two edited copies."""

    sample_id: str
    image: str
    label: str
    predicted: str
    background_decision: bool
    pictures: list[EditedPicture] = field(default_factory=list)
