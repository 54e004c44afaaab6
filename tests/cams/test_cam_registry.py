"""The registry of CAM methods: names, display order, kinds, flags, and its error messages."""

from __future__ import annotations

import dataclasses

import pytest

from audit.cams import (
    DEFAULT_METHODS,
    METHOD_NAMES,
    METHODS,
    CamMethod,
    UnknownMethodError,
    get_method,
    ordered_methods,
)
from audit.cams.gradcam import gradcam_weights
from audit.cams.methods import make_registry
from audit.config import parse_config
from audit.errors import ConfigError

# Written out, not derived from the registry: the message is part of the interface.
ALLOWED = "gradcam, gradcam++, xgradcam, hirescam, layercam, scorecam, eigencam, negative"


def test_registry_lists_each_method_once_in_display_order():
    assert METHOD_NAMES == ("gradcam", "gradcam++", "xgradcam", "hirescam", "layercam",
                            "scorecam", "eigencam", "negative")
    assert tuple(METHODS) == METHOD_NAMES
    assert [(m.name, m.title, m.kind, m.fixation, m.class_specific)
            for m in METHODS.values()] == [
        ("gradcam", "Grad-CAM", "gradient", True, True),
        ("gradcam++", "Grad-CAM++", "gradient", True, True),
        ("xgradcam", "XGrad-CAM", "gradient", True, True),
        ("hirescam", "HiResCAM", "gradient", True, True),
        ("layercam", "LayerCAM", "gradient", True, True),
        ("scorecam", "Score-CAM", "perturbation", True, True),
        ("eigencam", "EigenCAM", "activation", False, False),
        ("negative", "Negative evidence", "counter-evidence", False, True),
    ]
    orders = [m.order for m in METHODS.values()]
    assert orders == sorted(orders) and len(set(orders)) == len(orders)
    assert all(name == method.name and method.reference for name, method in METHODS.items())


def test_kinds_say_which_pass_and_whether_gradients_are_needed():
    assert [(m.name, m.shared_pass, m.uses_gradients) for m in METHODS.values()] == [
        ("gradcam", True, True), ("gradcam++", True, True), ("xgradcam", True, True),
        ("hirescam", True, True), ("layercam", True, True), ("scorecam", False, False),
        ("eigencam", True, False), ("negative", True, True)]


def test_registry_and_methods_are_read_only():
    with pytest.raises(TypeError):
        METHODS["mine"] = METHODS["gradcam"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        METHODS["gradcam"].fixation = False


def test_default_methods_are_registered_and_the_config_default():
    assert DEFAULT_METHODS == ("gradcam", "gradcam++", "scorecam", "negative")
    assert set(DEFAULT_METHODS) <= set(METHODS)
    config = parse_config({"model": {"path": "m.keras"}, "dataset": {"path": "d.csv"}})
    assert config.cams.methods == list(DEFAULT_METHODS)


def test_get_method_returns_the_registered_method():
    assert get_method("gradcam++") is METHODS["gradcam++"]


@pytest.mark.parametrize("name,message,suggestion", [
    ("gradcam+", "Unknown CAM method; got 'gradcam+'. Did you mean 'gradcam++'? Allowed: "
                 f"{ALLOWED}.", "gradcam++"),
    ("layer-cam", f"Unknown CAM method; got 'layer-cam'. Did you mean 'layercam'? Allowed: "
                  f"{ALLOWED}.", "layercam"),
    ("lime", f"Unknown CAM method; got 'lime'. Allowed: {ALLOWED}.", None),
    (["gradcam"], f"Unknown CAM method; got ['gradcam']. Allowed: {ALLOWED}.", None),
])
def test_get_method_error_names_value_guess_and_allowed(name, message, suggestion):
    with pytest.raises(UnknownMethodError) as info:
        get_method(name)
    assert str(info.value) == message
    assert isinstance(info.value, ValueError)
    assert info.value.suggestion == suggestion
    assert info.value.allowed == METHOD_NAMES


def test_get_method_in_another_registry():
    registry = make_registry([METHODS["gradcam"]])
    assert get_method("gradcam", registry=registry) is METHODS["gradcam"]
    with pytest.raises(UnknownMethodError) as info:
        get_method("negative", registry=registry)
    assert str(info.value) == "Unknown CAM method; got 'negative'. Allowed: gradcam."


@pytest.mark.parametrize("names,expected", [
    (["negative", "scorecam", "gradcam++", "gradcam"],
     ["gradcam", "gradcam++", "scorecam", "negative"]),
    (["zeta", "negative", "alpha", "gradcam"], ["gradcam", "negative", "alpha", "zeta"]),
    (["eigencam", "negative", "hirescam", "scorecam", "gradcam"],
     ["gradcam", "hirescam", "scorecam", "eigencam", "negative"]),
    (("gradcam", "gradcam", "x", "x"), ["gradcam", "x"]),
    ([], []),
])
def test_ordered_methods(names, expected):
    assert ordered_methods(names) == expected


def test_make_registry_sorts_by_order_and_refuses_repeats():
    late = dataclasses.replace(METHODS["gradcam"], name="late", order=1000)
    early = dataclasses.replace(METHODS["gradcam"], name="early", order=1)
    assert list(make_registry([late, METHODS["gradcam"], early])) == ["early", "gradcam", "late"]
    with pytest.raises(ValueError) as info:
        make_registry([METHODS["gradcam"], dataclasses.replace(METHODS["negative"],
                                                               name="gradcam")])
    assert str(info.value) == "CAM methods must have distinct names; repeated: gradcam."
    with pytest.raises(ValueError) as info:
        make_registry([METHODS["gradcam"], dataclasses.replace(late, order=10)])
    assert str(info.value) == "CAM methods must have distinct orders; repeated: 10."


def test_cam_method_refuses_unknown_kind_and_missing_weights():
    with pytest.raises(ValueError) as info:
        CamMethod("mine", "Mine", "gradients", gradcam_weights, True, 1)
    assert str(info.value) == ("CamMethod 'mine': unknown kind; got kind='gradients'. "
                               "Allowed: gradient, counter-evidence, activation, "
                               "perturbation.")
    with pytest.raises(ValueError) as info:
        CamMethod("mine", "Mine", "gradient", None, True, 1)
    assert str(info.value) == "CamMethod 'mine': weights must be a function; got NoneType."


def test_config_error_uses_the_registry_text():
    data = {"model": {"path": "m.keras"}, "dataset": {"path": "d.csv"},
            "cams": {"methods": ["gradcam", "gradcam+"]}}
    with pytest.raises(ConfigError) as info:
        parse_config(data, where="config.yaml")
    assert str(info.value) == (
        "config.yaml: cams.methods.1: unknown CAM method. Did you mean "
        f"'gradcam++'? Allowed: {ALLOWED}; got 'gradcam+'")
