"""Log a finished run to MLflow (``report.mlflow``; ``pip install "cam-audit[mlflow]"``).

What is logged, in one MLflow run:

* **parameters**: the resolved configuration, flattened (``cams.methods``, ``model.path``, ...),
  with secrets redacted: the value of any key, and of any ``beam.options`` flag, whose name
  contains ``key``, ``secret``, ``token``, ``password`` or ``credential``, and a password in
  a URL (``https://user:***@host``);
* **metrics**: the headline figures (:func:`audit.report.exports.figures.headline_figures`:
  accuracy, every method's at-a-glance figures, background reliance and the behavioural
  test's other figures, BG-Gap where the run has it), each with ``.ci_low`` / ``.ci_high``;
* **tags**: ``cam_audit.verdict`` (passed, failed, none), ``cam_audit.model_sha256``,
  ``cam_audit.dataset_sha256``, ``cam_audit.run_id``;
* **artifacts**: ``report.html``, ``summary.json``, ``records.csv``, ``summary.md``,
  ``model_card.json`` and ``junit.xml``, as the run folder has them.

The audit never fails because of MLflow: a missing package, a server that cannot be reached or
refuses the run is returned as one warning sentence, which the report shows. HTTP retries are
capped (MLflow would otherwise retry for minutes) unless ``MLFLOW_HTTP_REQUEST_MAX_RETRIES`` /
``MLFLOW_HTTP_REQUEST_TIMEOUT`` are set.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

from audit.config import MlflowSection
from audit.report.exports.figures import headline_figures
from audit.summary import RunSummary

__all__ = ["ARTIFACTS", "flatten_params", "log_run", "redact"]

#: The run folder's files logged as artifacts (those that exist).
ARTIFACTS = ("report.html", "summary.json", "records.csv", "summary.md", "model_card.json",
             "junit.xml")
REDACTED = "***"
_SECRET = re.compile(r"key|secret|token|password|passwd|credential", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"(://[^/:@\s]+:)[^/@\s]+@")
_MAX_PARAM = 6000  # MLflow's limit on a parameter's value
_BATCH = 100  # MLflow's limit on parameters per request
_RETRIES = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}


def redact(key: str, value):
    """``value`` with its secret parts replaced by ``***``: all of it when ``key`` names a
    secret; the values of secret-looking ``--flag=value`` items of a list (``beam.options``);
    a password inside a URL.

    >>> redact("beam.options", ["--runner=DataflowRunner", "--service_account_key=abc",
    ...                          "--aws_secret_access_key", "xyz"])
    ['--runner=DataflowRunner', '--service_account_key=***', '--aws_secret_access_key', '***']
    >>> redact("report.mlflow.tracking_uri", "https://me:hunter2@mlflow.example.com")
    'https://me:***@mlflow.example.com'
    >>> redact("auth.api_token", "t0k3n")
    '***'
    """
    last = key.rsplit(".", 1)[-1]
    if _SECRET.search(last) and value not in (None, "", [], {}):
        return REDACTED
    if isinstance(value, list | tuple):
        out, hide_next = [], False
        for item in value:
            text = str(item)
            if hide_next and not text.startswith("--"):
                out.append(REDACTED)
                hide_next = False
                continue
            hide_next = False
            if text.startswith("--"):
                name, eq, _ = text[2:].partition("=")
                if _SECRET.search(name):
                    if eq:
                        out.append(f"--{name}={REDACTED}")
                        continue
                    hide_next = True
            out.append(_URL_PASSWORD.sub(rf"\1{REDACTED}@", text))
        return out
    if isinstance(value, str):
        return _URL_PASSWORD.sub(rf"\1{REDACTED}@", value)
    return value


def flatten_params(config: Mapping, prefix: str = "") -> dict[str, str]:
    """The configuration as MLflow parameters: nested keys joined by ``.``, lists and other
    values as JSON text, secrets redacted (:func:`redact`), values cut to MLflow's limit.

    >>> flatten_params({"cams": {"methods": ["gradcam"], "batch_size": 16}, "seed": 0})
    {'cams.methods': '["gradcam"]', 'cams.batch_size': '16', 'seed': '0'}
    """
    out: dict[str, str] = {}
    for name, value in config.items():
        key = f"{prefix}{name}"
        if isinstance(value, Mapping) and value and not _SECRET.search(str(name)):
            out.update(flatten_params(value, prefix=f"{key}."))
            continue
        value = redact(key, value)
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        out[key] = text[:_MAX_PARAM]
    return out


@contextlib.contextmanager
def _capped_retries() -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in _RETRIES}
    for name, value in _RETRIES.items():
        os.environ.setdefault(name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)


def _metrics(summary: RunSummary) -> dict[str, float]:
    out: dict[str, float] = {}
    for figure in headline_figures(summary):
        out[figure.key] = figure.value
        if figure.ci is not None:
            out[f"{figure.key}.ci_low"], out[f"{figure.key}.ci_high"] = figure.ci
    return {k: float(v) for k, v in out.items() if v is not None and math.isfinite(v)}


def _tags(summary: RunSummary) -> dict[str, str]:
    verdict = "passed" if summary.passed else "failed" if summary.passed is False else "none"
    provenance = summary.provenance
    tags = {"cam_audit.verdict": verdict, "cam_audit.run_id": summary.run_id or "",
            "cam_audit.model_sha256": provenance.model_sha256 or "",
            "cam_audit.dataset_sha256": provenance.manifest_sha256 or "",
            "cam_audit.version": getattr(provenance, "cam_audit", None) or ""}
    return {k: v for k, v in tags.items() if v}


def log_run(section: MlflowSection, *, summary: RunSummary, config: Mapping,
            run_dir: str | os.PathLike) -> tuple[str | None, str | None]:
    """Log the run to MLflow as the module's notes say.

    Returns
    -------
    run_id : str or None
        The MLflow run's id (None when nothing could be logged).
    warning : str or None
        Why logging failed, as a sentence for the report; None when it succeeded.
    """
    try:
        import mlflow
        from mlflow.tracking import MlflowClient
    except ImportError as exc:
        return None, (f"report.mlflow is set but MLflow is not installed ({exc}): "
                      'pip install "cam-audit[mlflow]". The run was not logged to MLflow.')
    run_dir = Path(run_dir)
    where = section.tracking_uri or "MLflow's default tracking URI"
    run_id = None
    try:
        with _capped_retries():
            client = MlflowClient(tracking_uri=section.tracking_uri)
            experiment_id = "0"
            if section.experiment:
                found = client.get_experiment_by_name(section.experiment)
                experiment_id = found.experiment_id if found is not None else \
                    client.create_experiment(section.experiment)
            run = client.create_run(experiment_id, run_name=section.run_name or summary.run_id,
                                    tags=_tags(summary))
            run_id = run.info.run_id
            params = [mlflow.entities.Param(k, v) for k, v in flatten_params(config).items()]
            for start in range(0, len(params), _BATCH):
                client.log_batch(run_id, params=params[start:start + _BATCH])
            metrics = [mlflow.entities.Metric(k, v, 0, 0) for k, v in _metrics(summary).items()]
            for start in range(0, len(metrics), 1000):
                client.log_batch(run_id, metrics=metrics[start:start + 1000])
            for name in ARTIFACTS:
                if (run_dir / name).exists():
                    client.log_artifact(run_id, str(run_dir / name))
            client.set_terminated(run_id, "FINISHED")
    except Exception as exc:  # any failure of the server or the client: a warning, never fatal
        text = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
        if run_id is not None:
            with contextlib.suppress(Exception), _capped_retries():
                MlflowClient(tracking_uri=section.tracking_uri).set_terminated(run_id, "FAILED")
        return run_id, (f"The run could not be logged to MLflow at {redact('uri', where)} "
                        f"(report.mlflow): {text}. The audit's results are unaffected.")
    return run_id, None
