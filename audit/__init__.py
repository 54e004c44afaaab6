"""cam-audit: audit trained Keras image classifiers with class activation maps."""

__version__ = "0.1.0"
