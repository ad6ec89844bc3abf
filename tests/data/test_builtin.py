"""Built-in corpora: available without a download, the same on every call."""

from pydoc_data.topics import topics

import pytest

from lstmkit.data import BUILTIN, builtin_corpus, keywords_corpus
from lstmkit.errors import UserError


def test_pydoc_corpus_is_the_sorted_topics_split_in_order():
    train, valid, test = builtin_corpus("pydoc")
    assert all(part.strip() for part in (train, valid, test))
    assert builtin_corpus("pydoc") == (train, valid, test)
    text = train + valid + test
    first, last = sorted(topics)[0], sorted(topics)[-1]
    assert text.startswith(topics[first].replace("\r\n", "\n"))
    assert test.rstrip("\n").endswith(topics[last].replace("\r\n", "\n").rstrip("\n"))
    lines = len(text.splitlines())
    assert len(test.splitlines()) == pytest.approx(0.05 * lines, abs=1)


def test_keywords_corpus_by_name():
    train, valid, test = builtin_corpus("keywords", seed=1)
    assert [len(t.splitlines()) for t in (train, valid, test)] == [5000, 500, 500]
    # Same seed, same parts (the small call shares the valid/test generators).
    assert keywords_corpus(1, 500, 500, seed=1)[1:] == (valid, test)


def test_unknown_name_lists_the_choices():
    assert BUILTIN == ("keywords", "pydoc")
    with pytest.raises(UserError) as info:
        builtin_corpus("ptb")
    assert str(info.value) == "corpus: expected one of keywords, pydoc, got 'ptb'"
