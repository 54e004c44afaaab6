"""One error grammar across the package (docs/architecture.md, "Errors"):
``"<what> must be <expected>; got <value>"``. The other form this project once had
("...; received X.", "Received: X") must not come back in any message of ``audit/``."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "audit"
FORBIDDEN = re.compile(r"\breceived\b", re.IGNORECASE)


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def _message_strings(path: Path):
    """(line, text) of every string constant of ``path`` but its docstrings (f-strings
    included, part by part): the messages the package raises, warns, logs or prints."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    skip = _docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            yield node.lineno, node.value


def test_no_message_says_received():
    offenders = [f"{path.relative_to(PACKAGE.parent)}:{line}: {text!r}"
                 for path in sorted(PACKAGE.rglob("*.py"))
                 for line, text in _message_strings(path) if FORBIDDEN.search(text)]
    assert not offenders, "use '<what> must be <expected>; got <value>':\n" + "\n".join(offenders)


def test_the_scan_sees_split_f_strings(tmp_path):
    sample = tmp_path / "m.py"
    sample.write_text('"""Docstrings may say received."""\n'
                      'def f(x):\n'
                      '    raise ValueError(f"x must be 1; "\n'
                      '                     f"received {x}")\n')
    assert [line for line, text in _message_strings(sample) if FORBIDDEN.search(text)] == [3]
