"""Control characters from manifests never reach the terminal raw (audit.app.terminal)."""

from __future__ import annotations

import io

from audit.app.terminal import EscapingStream, escape_controls


def test_escapes_terminal_sequences_bidi_and_surrogates_but_keeps_lines():
    text = "skipped \x1b]0;pwned\x07cat.png: \u202egnp.exe\tok \ud800\n"
    out = escape_controls(text)
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "\\x1b]0;pwned\\x07" in out and "\\u202e" in out and "\\ud800" in out
    assert out.endswith("\tok \\ud800\n")
    assert escape_controls("C:\\data\\a.png") == "C:\\data\\a.png"


def test_the_stream_escapes_what_is_printed():
    buffer = io.StringIO()
    print("a\x1b[31mred", file=EscapingStream(buffer))
    assert buffer.getvalue() == "a\\x1b[31mred\n"


def test_cli_errors_are_escaped(tmp_path, capsys):
    from audit.app.cli import main

    assert main(["verify", str(tmp_path / "run\x1b[2J")]) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err and "run\\x1b[2J" in err
