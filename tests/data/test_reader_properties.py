"""Property tests: any bytes in a file give the file readers a result or a UserError, never more."""

import gzip
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lstmkit.data.config_file import read_config_file
from lstmkit.data.pairs import read_parallel, read_tsv
from lstmkit.data.series import read_series
from lstmkit.data.sources import load_corpus, read_eval_text
from lstmkit.errors import UserError

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# Raw bytes, and text shaped like what the readers expect (tabs, commas, dates, digits, newlines),
# so that examples reach past the first checks.
SHAPED = st.lists(
    st.sampled_from([*"ab1234567890-.,:;\t\n\r \"'#[]{}=é€\x00\ufeff", "2020-01", "\n\n"]),
    max_size=80,
).map("".join)
CONTENT = st.one_of(
    st.binary(max_size=200), SHAPED.map(lambda t: t.encode("utf-8")), st.text().map(str.encode)
)


def _write(folder, name, content: bytes, gz: bool):
    path = folder / (name + (".gz" if gz else ""))
    path.write_bytes(gzip.compress(content) if gz else content)
    return path


def _result_or_user_error(read, *args, **kwargs):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return read(*args, **kwargs)
    except UserError as error:
        message = str(error)
        assert message
        assert "\n" not in message.strip(), message
        return None


@SETTINGS
@given(content=CONTENT, gz=st.booleans())
def test_text_readers(tmp_path, content, gz):
    path = _write(tmp_path, "corpus.txt", content, gz)
    corpus = _result_or_user_error(load_corpus, path)
    if corpus is not None:
        assert isinstance(corpus.train, str)
    _result_or_user_error(load_corpus, train=path, valid=path, test=path)
    text = _result_or_user_error(read_eval_text, path)
    if text is not None:
        assert isinstance(text[0], str)


@SETTINGS
@given(content=CONTENT, gz=st.booleans())
def test_read_tsv(tmp_path, content, gz):
    pairs = _result_or_user_error(read_tsv, _write(tmp_path, "pairs.tsv", content, gz))
    if pairs is not None:
        assert len(pairs.src) == len(pairs.tgt) > 0
        assert all(s.strip() and t.strip() for s, t in pairs)


@SETTINGS
@given(src=CONTENT, tgt=CONTENT, gz=st.booleans())
def test_read_parallel(tmp_path, src, tgt, gz):
    pairs = _result_or_user_error(
        read_parallel, _write(tmp_path, "a.en", src, gz), _write(tmp_path, "a.fr", tgt, False)
    )
    if pairs is not None:
        assert len(pairs.src) == len(pairs.tgt)


SERIES = st.one_of(
    CONTENT,
    st.lists(
        st.tuples(
            st.sampled_from(["2020-01-01", "2020-02-01", "2020-03-01", "x", "", "2020-13-01"]),
            st.sampled_from(["1", "2.5", "nan", "", "inf", "-3", "a", "1e400"]),
        ),
        max_size=8,
    ).map(lambda rows: ("date,y\n" + "".join(f"{d},{v}\n" for d, v in rows)).encode()),
)


@SETTINGS
@given(content=SERIES, gz=st.booleans(), fill=st.sampled_from([None, "ffill", "interpolate"]))
def test_read_series(tmp_path, content, gz, fill):
    frame = _result_or_user_error(read_series, _write(tmp_path, "s.csv", content, gz), fill=fill)
    if frame is not None:
        assert len(frame) >= 1


CONFIG = st.one_of(
    CONTENT,
    st.dictionaries(
        st.text(max_size=8),
        st.one_of(st.integers(), st.floats(), st.text(max_size=8), st.none()),
        max_size=4,
    ).map(lambda d: "".join(f"{k!r}: {v!r}\n" for k, v in d.items()).encode()),
)


@pytest.mark.parametrize("suffix", [".yaml", ".toml", ".json"])
@SETTINGS
@given(content=CONFIG)
def test_read_config_file(tmp_path, suffix, content):
    path = tmp_path / f"c{suffix}"
    path.write_bytes(content)
    config = _result_or_user_error(read_config_file, path)
    if config is not None:
        assert isinstance(config, dict)
