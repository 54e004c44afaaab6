"""Secrets kept out of every output: the run's ``config.yaml``, ``report.html``, provenance,
``summary.json``, ``status.json`` and the history.

Two kinds of secret reach a configuration:

* **Beam options** whose flag names a key, secret, token, password or credential
  (``--s3_secret_access_key=...``, ``--azure_connection_string`` is not one, ``--token ...``):
  the value is replaced by ``***``, in both the ``--flag=value`` and the ``--flag value``
  spellings.
* **Credentials in a URL** (``s3://user:password@host/...``, ``https://token@host/...``):
  the user information before ``@`` is replaced by ``***``, in any string of any output.

:func:`redact` walks plain data (dicts, lists, strings) and returns a redacted copy; nothing
is changed in place. The configuration the run itself uses keeps its values.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["REDACTED", "SECRET_FLAG", "redact", "redact_options", "redact_text"]

#: What a secret is replaced with.
REDACTED = "***"

#: A flag name that holds a secret.
SECRET_FLAG = re.compile(r"key|secret|token|passw(or)?d|credential", re.IGNORECASE)

_URL_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/@\s]+)@")


def redact_text(text: str) -> str:
    """``text`` with the credentials of every URL in it replaced.

    >>> redact_text("gs://bucket/a.png and https://alice:s3cr3t@host/x")
    'gs://bucket/a.png and https://***@host/x'
    """
    return _URL_USERINFO.sub(lambda m: f"{m['scheme']}{REDACTED}@", text)


def redact_options(options: list[Any]) -> list[Any]:
    """Beam's command-line options with every secret flag's value replaced.

    >>> redact_options(["--runner=DirectRunner", "--s3_secret_access_key=abc",
    ...                 "--token", "xyz", "--project=p"])
    ['--runner=DirectRunner', '--s3_secret_access_key=***', '--token', '***', '--project=p']
    """
    out: list[Any] = []
    hide_next = False
    for option in options:
        if hide_next and isinstance(option, str) and not option.startswith("-"):
            out.append(REDACTED)
            hide_next = False
            continue
        hide_next = False
        if isinstance(option, str) and option.startswith("-"):
            flag, sep, _ = option.partition("=")
            if SECRET_FLAG.search(flag):
                if sep:
                    out.append(f"{flag}={REDACTED}")
                    continue
                hide_next = True
        out.append(redact_text(option) if isinstance(option, str) else option)
    return out


def redact(data: Any) -> Any:
    """A copy of plain data with secrets replaced: URL credentials in every string, and the
    values of secret flags in any list under a key named ``options`` (``beam.options``).

    >>> redact({"beam": {"options": ["--aws_secret=abc"]}, "model": {"path": "s3://k:s@b/m"}})
    {'beam': {'options': ['--aws_secret=***']}, 'model': {'path': 's3://***@b/m'}}
    """
    if isinstance(data, dict):
        return {key: redact_options(value) if key == "options" and isinstance(value, list)
                else redact(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [redact(value) for value in data]
    if isinstance(data, str):
        return redact_text(data)
    return data
