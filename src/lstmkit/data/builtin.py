"""Built-in corpora, selectable by name, that need no download: a demo task and real English.

``"keywords"`` is the notes' keyword-memory task (:mod:`lstmkit.data.keywords`), generated from a
seed. ``"pydoc"`` is the help text that ships with every Python installation: the standard
library's ``pydoc_data.topics`` (what ``help("with")`` prints), 79 topics and about 65,000 words of
English prose about Python in Python 3.11 — large enough to train a small word- or character-level
model on a CPU, and there on every machine. Its text changes between Python versions.
"""

from __future__ import annotations

from lstmkit.data.keywords import keywords_corpus
from lstmkit.data.text import split_text
from lstmkit.errors import UserError

BUILTIN = ("keywords", "pydoc")
# About 520,000 words of training passages (half of Penn Treebank), generated in under a second.
KEYWORDS_SIZES = (5000, 500, 500)


def builtin_corpus(name: str, seed: int = 0) -> tuple[str, str, str]:
    """The train, valid and test texts of a built-in corpus.

    Args:
        name: one of :data:`BUILTIN`.
        seed: the keywords corpus's seed (default 0); the pydoc split is fixed and ignores it.

    Returns:
        ``(train, valid, test)``: for ``"keywords"``, 5000/500/500 passages, one per line; for
        ``"pydoc"``, the topics in sorted order, split on lines 90/5/5 (contiguous blocks).

    Raises:
        UserError: an unknown name, or a Python installed without ``pydoc_data``.

    Example:
        >>> train, valid, test = builtin_corpus("pydoc")
        >>> len(train) > 100 * len(test.splitlines())
        True
    """
    if name == "keywords":
        return keywords_corpus(*KEYWORDS_SIZES, seed=seed)
    if name == "pydoc":
        return split_text(_pydoc_text(), valid_fraction=0.05, test_fraction=0.05)
    raise UserError(f"corpus: expected one of {', '.join(BUILTIN)}, got {name!r}")


def _pydoc_text() -> str:
    """The pydoc topics in sorted order, a blank line between them."""
    try:
        from pydoc_data.topics import topics
    except ImportError:  # some distributions split pydoc_data into a separate package
        raise UserError(
            "corpus 'pydoc': this Python has no pydoc_data module; expected the standard "
            "library's help texts (install the full Python, or use `data` with your own text)"
        ) from None
    # Sorted, because the dict's own order is an accident of how the module was generated.
    texts = (topics[key].replace("\r\n", "\n").rstrip("\n") + "\n" for key in sorted(topics))
    return "\n".join(texts)
