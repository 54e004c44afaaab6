"""Evidence behind a background-fixation verdict that does not rest on one explainer.

Pure building blocks, in the style of :mod:`audit.metrics` (plain functions, keyword-only
options, inputs checked first, NaN for undefined), for three kinds of evidence (see
``DESIGN.md``, "Evidence behind a verdict"):

- behaviour, explainer-free: :mod:`~audit.evidence.fills` edits the image,
  :mod:`~audit.evidence.behaviour` reads the model's decisions on the edits, and
  :mod:`~audit.evidence.agreement` compares verdicts;
- faithfulness of each CAM method: :mod:`~audit.evidence.faithfulness` (deletion and
  insertion), :mod:`~audit.evidence.confidence` (Average Drop, Increase in Confidence),
  :mod:`~audit.evidence.baselines` (random and centre maps) and
  :mod:`~audit.evidence.subset` (the samples they are measured on);
- sanity: :mod:`~audit.evidence.sanity` (cascading randomisation of a model copy) and
  :mod:`~audit.evidence.similarity` (Spearman, SSIM).

Nothing here runs a model: callers predict on what these functions build. Keras is only
imported by the functions of :mod:`~audit.evidence.sanity` that need it.
"""
