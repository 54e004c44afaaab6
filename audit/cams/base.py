"""What a CAM method is: a name, a kind, and the function that computes its weights.

As in pytorch-grad-cam's ``BaseCAM.get_cam_weights``, a method is only its weights; the
engine (:mod:`audit.cams.engine`) runs the model, hands each method what its *kind* says it
receives, and forms the map ``ReLU(sum_k w_k A_k)``. The registry of methods is
:mod:`audit.cams.methods`; this module holds the types it is made of, so that each method's
module can define its :class:`CamMethod` without importing the registry that lists it.

Notation (DESIGN.md): ``A`` the explained layer's activations ``(N, h, w, K)``, ``S`` the
target class score, ``g = dS/dA``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType
from typing import NamedTuple


@dataclass(frozen=True)
class Kind:
    """How the engine computes a kind of method's weights.

    A method of a shared-pass kind is called inside the traced graph of the pass that all of
    them share, as ``weights(activations, grads)``: ``A`` and ``g`` as float32
    ``(N, h, w, K)`` (``grads`` is None when no requested method uses gradients).
    It returns channel weights ``(N, K)``, element-wise weights ``(N, h, w, K)`` (the map is
    then ``ReLU(sum_k w_ijk A_ijk)``), or a :class:`WeightedActivations`.

    A shared-pass method is called once per target slot of the pass (with that slot's ``g``).

    A perturbation method is called after that pass, once for every target of the batch, as
    ``weights(activations, images, class_idx, *, probabilities, max_channels)``: ``A`` float32
    ``(N, h, w, K)``, the model's input ``(N, H, W, C)``, the target classes int32 ``(N, T)``
    (T targets per image), the channel budget (``CamExplainer(scorecam_max_channels=...)``,
    None for all), and the engine's masked passes ``probabilities(make_masks, maps,
    image_index, classes) -> (M, T)``: the probability of each class ``classes[m, t]`` for
    image ``image_index[m]`` multiplied by the mask ``make_masks(maps, (H, W))[m]``, one
    masked pass serving every target (``classes`` of shape ``(M,)`` gives ``(M,)``). It
    returns weights with a target axis, ``(N, T, K)`` or ``(N, T, h, w, K)`` (or a
    :class:`WeightedActivations` of them); one target's ``(N, K)`` is accepted when T = 1.
    ``make_masks`` turns maps ``(M, h, w)`` into masks ``(M, H, W, 1)`` inside the graph;
    the engine runs the masked inputs in chunks (of fixed shape with ``micro_batch``), so
    they never all sit in memory at once.

    Attributes
    ----------
    shared_pass : bool
        The weights come from the shared pass (else from extra forward passes).
    uses_gradients : bool
        The weights need ``g``; the backward pass is skipped when no requested method needs it.
    description : str
        One line for people.
    """

    shared_pass: bool
    uses_gradients: bool
    description: str


#: Every kind of method, by name.
KINDS = MappingProxyType({
    "gradient": Kind(shared_pass=True, uses_gradients=True, description=(
        "weights from the activations and the gradient of the class score, in the shared pass")),
    "counter-evidence": Kind(shared_pass=True, uses_gradients=True, description=(
        "like gradient, but the map shows evidence against the class")),
    "activation": Kind(shared_pass=True, uses_gradients=False, description=(
        "weights from the activations alone, in the shared pass")),
    "perturbation": Kind(shared_pass=False, uses_gradients=False, description=(
        "weights from forward passes on masked inputs")),
})


class WeightedActivations(NamedTuple):
    """Weights that apply to other activations than the layer's own.

    A weights function returns weights (``(N, K)`` or ``(N, h, w, K)``) to weigh ``A``
    itself, or this pair to weigh other activations of the same ``(N, h, w)``: the channel
    subset Score-CAM keeps with its top-k option, the centred activations of EigenCAM.
    """

    weights: object  # tf.Tensor (N, K') or (N, h, w, K')
    activations: object  # tf.Tensor (N, h, w, K')


@dataclass(frozen=True)
class CamMethod:
    """One CAM method: what the registry, the engine and the reports know about it.

    Attributes
    ----------
    name : str
        The name in configurations, records and reports, e.g. ``"gradcam++"``.
    title : str
        The name people read, e.g. ``"Grad-CAM++"``.
    kind : str
        One of :data:`KINDS`: ``"gradient"``, ``"counter-evidence"``, ``"activation"`` or
        ``"perturbation"``. It decides what ``weights`` receives (see :class:`Kind`).
    weights : callable
        The weights function. It returns float32 channel weights ``(N, K)``, element-wise
        weights ``(N, h, w, K)``, or a :class:`WeightedActivations`.
    fixation : bool
        The method's maps get a background-fixation flag and are gated. False for a map of
        counter-evidence (a map *against* the class sitting on the background is no
        fixation) and for a map that is not the class's (``class_specific`` False).
    order : int
        Display order: reports list methods by increasing ``order``.
    reference : str
        The paper, in one line.
    class_specific : bool
        The map depends on the explained class. False for EigenCAM, which projects the
        activations alone: every class gets the same map.
    """

    name: str
    title: str
    kind: str
    weights: Callable
    fixation: bool
    order: int
    reference: str = ""
    class_specific: bool = True

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"CamMethod '{self.name}': unknown kind; got "
                             f"kind={self.kind!r}. Allowed: {', '.join(KINDS)}.")
        if not callable(self.weights):
            raise ValueError(f"CamMethod '{self.name}': weights must be a function; got "
                             f"{type(self.weights).__name__}.")

    @property
    def shared_pass(self) -> bool:
        """True when the weights come from the pass shared by the gradient methods."""
        return KINDS[self.kind].shared_pass

    @property
    def uses_gradients(self) -> bool:
        """True when the weights need the gradient of the class score."""
        return KINDS[self.kind].uses_gradients
