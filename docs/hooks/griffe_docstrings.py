"""Griffe extension: docstring leftovers of Sphinx read as the Markdown mkdocstrings renders.

Applied to the docstring text before griffe parses it (nothing in ``src/`` changes):

* an ``Example:`` section heading becomes Google style's ``Examples:``, the one griffe knows, so
  that its doctests render as code (``>>>`` would otherwise render as quotes and ``out[0][1]``
  as a link);
* a Sphinx role (``:class:`~lstmkit.models.LMConfig```, ``:func:`batchify```, ``:math:`x_t```)
  becomes inline code of what Sphinx would show (``LMConfig``), instead of rendering literally;
* a paragraph ending in reST's literal-block marker ``::`` ends in one colon (the indented block
  after it renders as code either way).

Each rewrite does nothing once the docstrings no longer hold what it rewrites.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

EXAMPLE_HEADING = re.compile(r"^(\s*)Example:[ \t]*$", re.MULTILINE)
ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|data|exc|obj|math):`(~?)([^`]+)`")
LITERAL_MARKER = re.compile(r"^(?!\s*>>>)(.*\S)::[ \t]*$(?=\n[ \t]*\n)", re.MULTILINE)


def markdown(text: str) -> str:
    """The docstring ``text`` with the rewrites above."""
    text = EXAMPLE_HEADING.sub(r"\1Examples:", text)
    text = ROLE.sub(lambda role: f"`{_shown(*role.groups())}`", text)
    return LITERAL_MARKER.sub(r"\1:", text)


def _shown(tilde: str, target: str) -> str:
    """What Sphinx shows for a role: its explicit title, the last name after ``~``, else all."""
    title = re.match(r"(.*?)\s*<[^>]+>$", target)
    if title:
        return title.group(1)
    return target.rsplit(".", 1)[-1] if tilde else target


class SphinxLeftovers(griffe.Extension):
    """Rewrites each object's docstring before it is parsed (see the module docstring)."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = markdown(obj.docstring.value)
