"""The audit configuration: one YAML file, validated before anything runs.

Every key but ``model.path`` and ``dataset.path`` has a default. Unknown keys are errors
(a typo must not silently fall back to a default). An error names the file, the key path,
what is allowed and the value given, for example::

    config.yaml: cams.batch_size must be greater than or equal to 1; got 0

Relative paths are resolved against the folder of the configuration file. ``model.path`` and
``dataset.images_root`` may also be URLs (``gs://bucket/model.keras``), kept as written and read
through Apache Beam's file systems (:mod:`audit.files`).

One module per idea, every name re-exported here (``from audit.config import AuditConfig``):
:mod:`~audit.config.base` (what every section shares), :mod:`~audit.config.sections` (model,
dataset, CAMs, metrics, report, demo, Beam), :mod:`~audit.config.evidence` (behaviour,
faithfulness, sanity), :mod:`~audit.config.gates` (the release gates),
:mod:`~audit.config.audit_config` (:class:`AuditConfig`, the whole file) and
:mod:`~audit.config.loading` (:func:`load_config`, :func:`parse_config` and the error messages).
"""

from audit.config.audit_config import AuditConfig
from audit.config.evidence import (
    BehaviourSection,
    FaithfulnessSection,
    SanitySection,
    StrategiesSection,
)
from audit.config.gates import GatesSection, LabelGates
from audit.config.loading import load_config, parse_config
from audit.config.sections import (
    DEFAULT_SCORECAM_CHANNELS,
    BeamSection,
    CamsSection,
    DatasetFormat,
    DatasetSection,
    DemoSection,
    Method,
    MetricsSection,
    MlflowSection,
    ModelSection,
    ModuleName,
    ObjectPath,
    PathOrUrl,
    Preprocessing,
    ReportSection,
    Target,
    TokensSection,
)

__all__ = [
    "DEFAULT_SCORECAM_CHANNELS",
    "AuditConfig",
    "BeamSection",
    "BehaviourSection",
    "CamsSection",
    "DatasetFormat",
    "DatasetSection",
    "DemoSection",
    "FaithfulnessSection",
    "GatesSection",
    "LabelGates",
    "Method",
    "MetricsSection",
    "ModelSection",
    "ModuleName",
    "ObjectPath",
    "PathOrUrl",
    "Preprocessing",
    "MlflowSection",
    "ReportSection",
    "SanitySection",
    "StrategiesSection",
    "Target",
    "TokensSection",
    "load_config",
    "parse_config",
]
