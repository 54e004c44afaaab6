"""Reading YAML that someone else may have written: configurations and pipeline files.

``yaml.safe_load`` already refuses ``!!python`` tags; what it still allows is bounded here:

* **Aliases and anchors** (``&a`` / ``*a``) are refused, naming the line: nine levels of a
  438-byte "billion laughs" document expand to gigabytes once constructed and echoed in an
  error. A configuration has no need of them (a pipeline file's ``params:`` repeat a few keys).
* **A key given twice** in one mapping is refused, naming both lines (YAML keeps the last one
  silently: a second ``gates:`` switched ``min_accuracy`` off).
* **Nesting** deeper than :data:`MAX_DEPTH` is refused before the document is composed (the
  composer recurses).
* **Size**: a file over :data:`MAX_BYTES` is refused before it is read.
* The C loader (``yaml.CSafeLoader``, libyaml) is used when PyYAML was built with it: a 2 MB
  document parses in well under a second instead of a minute.
* Values echoed in errors are capped (:func:`short`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from audit.errors import ConfigError

__all__ = ["MAX_BYTES", "MAX_DEPTH", "dump_yaml", "load_yaml_text", "read_yaml", "short"]

#: Largest YAML file read (a configuration is a few KB).
MAX_BYTES = 1 << 20

#: Deepest nesting of mappings and sequences.
MAX_DEPTH = 64

#: The loader: libyaml's when present.
Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def short(value: Any, limit: int = 200) -> str:
    """``repr(value)``, cut to ``limit`` characters (with the full length said).

    >>> short("x" * 5)
    "'xxxxx'"
    >>> short("x" * 300, limit=10)
    "'xxxxxxxx... (302 characters)"
    """
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit - 1]}... ({len(text)} characters)"


def read_yaml(path: str | os.PathLike, *, what: str = "YAML file") -> Any:
    """Read and parse a YAML file with the limits above.

    Raises
    ------
    ConfigError
        The file is missing, too large, not UTF-8, not valid YAML, or uses an alias, an
        anchor, a repeated key or too deep a nesting; the message names the file and line.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ConfigError(f"{path}: a {what} must be at most {MAX_BYTES:,} bytes; got "
                              f"{size:,} bytes")
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: a {what} must be UTF-8 text; got a byte "
                          f"{exc.object[exc.start:exc.start + 1]!r} at offset {exc.start}"
                          ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None
    return load_yaml_text(text, where=str(path))


def load_yaml_text(text: str, *, where: str) -> Any:
    """Parse YAML text with the limits above (see :func:`read_yaml`).

    >>> load_yaml_text("a: 1\\nb: [2, 3]\\n", where="x.yaml")
    {'a': 1, 'b': [2, 3]}
    >>> load_yaml_text("a: &x 1\\nb: *x\\n", where="x.yaml")
    Traceback (most recent call last):
    ...
    audit.errors.ConfigError: x.yaml: line 1: anchors and aliases are not allowed (&x); write \
the value out
    >>> load_yaml_text("a: 1\\na: 2\\n", where="x.yaml")
    Traceback (most recent call last):
    ...
    audit.errors.ConfigError: x.yaml: key 'a' is given twice, at line 1 and line 2; keep one
    """
    if len(text) > MAX_BYTES:
        raise ConfigError(f"{where}: YAML text must be at most {MAX_BYTES:,} characters; got "
                          f"{len(text):,}")
    try:
        _check_events(text, where)
        loader = Loader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            _check_keys(node, where)
            return loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}: not valid YAML: {short(str(exc), 400)}") from None


def _line(mark) -> int:
    return mark.line + 1 if mark is not None else 0


def _check_events(text: str, where: str) -> None:
    """Refuse anchors, aliases and deep nesting from the event stream (nothing composed)."""
    depth = 0
    for event in yaml.parse(text, Loader=Loader):
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            sign = "*" if isinstance(event, yaml.AliasEvent) else "&"
            raise ConfigError(f"{where}: line {_line(event.start_mark)}: anchors and aliases "
                              f"are not allowed ({sign}{short(anchor, 40).strip(chr(39))}); "
                              "write the value out")
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise ConfigError(f"{where}: line {_line(event.start_mark)}: nesting must be at "
                                  f"most {MAX_DEPTH} levels deep; got deeper")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _check_keys(node: yaml.Node, where: str) -> None:
    """Refuse a key given twice in one mapping, naming both lines (depth is bounded)."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, yaml.MappingNode):
            seen: dict[Any, Any] = {}
            for key, value in current.value:
                if isinstance(key, yaml.ScalarNode):
                    ident = (key.tag, key.value)
                    if ident in seen:
                        raise ConfigError(
                            f"{where}: key {short(key.value, 80)} is given twice, at line "
                            f"{_line(seen[ident])} and line {_line(key.start_mark)}; keep one")
                    seen[ident] = key.start_mark
                stack.extend((key, value))
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)


class _NoAliasDumper(yaml.SafeDumper):
    """Writes an object met twice out twice: what is written must read back here."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump_yaml(data: Any, **options: Any) -> str:
    """``yaml.safe_dump`` without anchors or aliases (which :func:`load_yaml_text` refuses).

    >>> shared = [1, 2]
    >>> print(dump_yaml({"a": shared, "b": shared}, default_flow_style=True), end="")
    {a: [1, 2], b: [1, 2]}
    """
    return yaml.dump(data, Dumper=_NoAliasDumper, **options)
