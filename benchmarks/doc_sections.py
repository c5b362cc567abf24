"""Editing one section of a results page (docs/benchmarks.md) in place: what every benchmark script
that writes its results there shares, so that a rerun replaces its own section and keeps the rest."""
from __future__ import annotations

from pathlib import Path

from sensors.atomic import atomic_write_text


def _find_heading(text: str, heading: str, start: int = 0) -> int:
    """Offset of the line ``heading`` in ``text`` at or after ``start``, or -1."""
    if text.startswith(f"{heading}\n", start):
        return start
    found = text.find(f"\n{heading}\n", start)
    return found + 1 if found >= 0 else -1


def replace_section(text: str, section: str) -> str:
    """``text`` (markdown) with the ``## `` section whose heading is ``section``'s first line
    replaced by ``section`` (appended after a blank line when there is none); one blank line
    separates it from the next ``## `` section, every other part of ``text`` is kept."""
    start = _find_heading(text, section.splitlines()[0])
    if start < 0:
        return text.rstrip("\n") + "\n\n" + section
    end = text.find("\n## ", start + 1)
    return text[:start] + section + ("" if end < 0 else "\n" + text[end:].lstrip("\n"))


def replace_subsection(text: str, section: str, subsection: str) -> str:
    """``text`` (markdown) with ``subsection`` (starting with ``### title``) put in ``## section``.

    A subsection with the same ``###`` title line inside that section is replaced; otherwise the
    subsection is appended to the section, which is appended to the file when missing. Every other
    part of ``text`` is kept as it is.
    """
    title = subsection.splitlines()[0]
    body = subsection.rstrip("\n") + "\n"
    start = _find_heading(text, section)
    if start < 0:
        return text.rstrip("\n") + f"\n\n{section}\n\n" + body
    end = text.find("\n## ", start + 1)
    end = len(text) if end < 0 else end + 1
    part = text[start:end]
    sub = part.find(f"\n{title}\n")
    if sub >= 0:
        sub += 1
        sub_end = part.find("\n### ", sub + 1)
        sub_end = len(part) if sub_end < 0 else sub_end + 1
        part = part[:sub] + body + ("\n" if sub_end < len(part) else "") + part[sub_end:].lstrip("\n")
    else:
        part = part.rstrip("\n") + "\n\n" + body
    if end < len(text) and not part.endswith("\n\n"):
        part += "\n"
    return text[:start] + part + text[end:]


def write_section(path: Path, section: str) -> None:
    """Put ``section`` (a ``## `` heading line, then its body) into the markdown file ``path``
    (:func:`replace_section`; a missing file starts as ``# Benchmarks``), atomically."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    atomic_write_text(path, replace_section(text, section))
