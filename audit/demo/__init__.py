"""The demo that needs no download: synthetic shapes on class-tied backgrounds, and a small
CNN trained on them that learns the background instead of the shape.

    from audit.demo import ensure_demo
    demo = ensure_demo("data/demo")            # biased model (background correlation 0.95)
    demo.model_path, demo.audit_manifest       # the model to audit and its decorrelated set
"""

from .build import DemoPaths, ensure_demo
from .shapes import generate_dataset
from .train import build_model, evaluate, train_model

__all__ = ["DemoPaths", "build_model", "ensure_demo", "evaluate", "generate_dataset",
           "train_model"]
