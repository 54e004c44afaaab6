"""Reading a configuration: relative paths resolved against its folder, and validation errors
that name the file, the key path, the value and what is allowed (see :mod:`audit.config`)."""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from audit.config.audit_config import AuditConfig
from audit.errors import ConfigError
from audit.files import is_url
from audit.safe_yaml import read_yaml
from audit.validation import echo, must_phrase

_PATH_KEYS = (("model", "path"), ("model", "search_path"), ("dataset", "path"),
              ("dataset", "images_root"), ("report", "out_dir"), ("report", "baseline"),
              ("demo", "data_dir"), ("pipeline",))


def _allowed_keys(model_cls, loc: tuple) -> list[str]:
    cls = model_cls
    for part in loc[:-1]:
        field = cls.model_fields.get(part) if isinstance(part, str) else None
        if field is None:
            return []
        annotation = field.annotation
        candidates = [a for a in getattr(annotation, "__args__", (annotation,))
                      if isinstance(a, type) and issubclass(a, BaseModel)]
        if not candidates:
            return []
        cls = candidates[0]
    return list(cls.model_fields)


def _format_errors(exc: ValidationError, where: str) -> str:
    lines = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        key = ".".join(str(p) for p in loc) or "(top level)"
        kind = error["type"]
        if kind == "extra_forbidden":
            allowed = [k for k in _allowed_keys(AuditConfig, loc) if k != "source"]
            guess = difflib.get_close_matches(str(loc[-1])[:100], allowed, n=1)
            hint = f" Did you mean '{guess[0]}'?" if guess else ""
            lines.append(f"{where}: {_cap(key)}: unknown key.{hint} Allowed here: "
                         f"{', '.join(allowed)}.")
        elif kind == "missing":
            lines.append(f"{where}: {key}: required key is missing.")
        else:
            lines.append(f"{where}: {must_phrase(_cap(key), error['msg'])}; got "
                         f"{echo(error.get('input'))}")
        if len(lines) >= 20:
            lines.append(f"{where}: ... and {len(exc.errors()) - 20} more error(s)")
            break
    return "\n".join(lines)


def _cap(text: str, limit: int = 200) -> str:
    """A key path or message cut to ``limit`` characters (the values are capped by ``short``)."""
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


def _resolve_paths(data: dict, base: Path) -> dict:
    for keys in _PATH_KEYS:
        node = data
        for key in keys[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict) and isinstance(node.get(keys[-1]), str | os.PathLike) \
                and not is_url(node[keys[-1]]):
            value = Path(os.path.expanduser(str(node[keys[-1]])))
            node[keys[-1]] = value if value.is_absolute() else base / value
    return data


def parse_config(data: Any, *, where: str = "config", base_dir: Path | None = None
                 ) -> AuditConfig:
    """Validate a configuration mapping; relative paths are resolved against ``base_dir``."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of keys (run_name, model, dataset, ...); "
                          f"got {type(data).__name__}.")
    import copy

    data = copy.deepcopy(data)
    model = data.get("model")
    if isinstance(model, dict) and (model.get("imports") or model.get("custom_objects")):
        # Recorded in the data, not kept aside, so that the resolved configuration a run
        # writes (and a resumed run reads back) imports from the same folder.
        model.setdefault("search_path", ".")
    data = _resolve_paths(data, base_dir or Path.cwd())
    try:
        return AuditConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, where)) from None


def load_config(path: str | os.PathLike) -> AuditConfig:
    """Read and validate a YAML configuration file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"Configuration file '{path}' does not exist.")
    # Bounded: no aliases, no repeated key, a size cap, libyaml when present (audit.safe_yaml).
    data = read_yaml(path, what="configuration file")
    config = parse_config(data, where=str(path), base_dir=path.resolve().parent)
    return config.model_copy(update={"source": path.resolve()})
