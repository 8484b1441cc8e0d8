"""Text shown to the photographer: counted nouns (:func:`plural`), and for the terminal, file names and
user-supplied names with their control characters escaped (:func:`printable`).

A file or profile name can hold any character but ``/`` and NUL: ESC sequences (set the terminal title,
move the cursor, recolour the screen), BEL, CR and LF (forge or split lines). :func:`printable` shows every
C0 control character (TAB, CR, LF and ESC included), DEL and every C1 control character as an escape
(``\\t``, ``\\r``, ``\\n``, ``\\x1b``, ``\\x7f``, ``\\x9b``), and a lone surrogate (a name's byte that
is not UTF-8, which could not be printed at all) as ``\\udcff``; everything else, non-ASCII letters and
backslashes included, is kept as it is. For the console only: JSON and CSV output keep the real names.
"""

from __future__ import annotations

import os
import re

__all__ = ["plural", "printable"]

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_SHORT = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    return _SHORT.get(ch) or (f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")


def printable(value: object) -> str:
    """``value`` as text (``os.fsdecode`` for paths and bytes, ``str`` otherwise) with control characters escaped."""
    text = os.fsdecode(value) if isinstance(value, os.PathLike | bytes) else str(value)
    return _CONTROL.sub(_escape, text)


def plural(n: int, word: str) -> str:
    """``1 photo``, ``2 photos``: a count and its noun, for status messages."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
