"""Exports: the run's results in the formats other tools read.

=================  ==================================================================
module             export
=================  ==================================================================
``figures``        the headline figures as one flat list (what every export reports)
``model_card``     ``model_card.json`` in the Model Card Toolkit's schema shape
``mlflow``         parameters, metrics, tags and artifacts logged to an MLflow run
=================  ==================================================================

An export reads the typed summary (and the run folder's files); it never recomputes a
figure. ``summary.md`` (:mod:`audit.report.markdown`) is a view of the report's sections.
"""
