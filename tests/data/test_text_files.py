"""Text read piece by piece (scan_text, TextSource): the same text, split and checked as a whole
read gives, with memory bounded by a piece."""

import gzip
import hashlib
import itertools
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lstmkit.data import Corpus, TextSource, load_corpus, scan_text, split_text, text_files
from lstmkit.errors import UserError

SETTINGS = settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
TEXT = st.lists(
    st.sampled_from(["a", "bc", " ", "\n", "\r\n", "\r", "é", "€", "\ufeff", "\t", "\n\n"]),
    max_size=60,
).map("".join)


def decoded(data: bytes) -> str:
    """What a file's bytes say, decoded here in one go (independent of the piecewise reader)."""
    return data.decode("utf-8").removeprefix("\ufeff").replace("\r\n", "\n")


@pytest.fixture(params=[3, 16, 1 << 20], ids=["3-byte", "16-byte", "1-MiB"])
def chunk(request, monkeypatch):
    """Pieces of a few bytes make every file many pieces."""
    monkeypatch.setattr(text_files, "CHUNK_BYTES", request.param)
    return request.param


@SETTINGS
@given(text=TEXT, gz=st.booleans(), bom=st.booleans())
def test_pieces_joined_are_the_file_decoded(tmp_path, chunk, text, gz, bom):
    data = ("\ufeff" if bom else "").encode() + text.encode("utf-8")
    path = tmp_path / ("t.txt.gz" if gz else "t.txt")
    path.write_bytes(gzip.compress(data) if gz else data)
    want = decoded(data)
    if not want.strip():
        with pytest.raises(UserError, match="holds no text"):
            scan_text(path)
        return
    source = scan_text(path)
    pieces = list(source.pieces())
    assert "".join(pieces) == want
    assert all(piece.endswith("\n") for piece in pieces[:-1])  # cut at line ends only
    assert source.num_lines == want.count("\n") + (not want.endswith("\n"))
    assert source.sha256() == hashlib.sha256(want.encode("utf-8")).hexdigest()


@SETTINGS
@given(
    lines=st.lists(
        st.sampled_from(["a\n", "b c\n", "\n", "  \n", "dé€\n"]), min_size=3, max_size=40
    ),
    last=st.sampled_from(["", "tail"]),
    valid=st.sampled_from([0.0, 0.1, 0.25]),
    test=st.sampled_from([0.0, 0.2]),
)
def test_a_source_splits_on_the_lines_a_string_splits_on(tmp_path, chunk, lines, last, valid, test):
    text = "x\n" + "".join(lines) + last
    (tmp_path / "t.txt").write_text(text, newline="")
    n = len(lines) + 1 + bool(last)
    n_valid = max(1, int(n * valid + 0.5)) if valid else 0
    n_test = max(1, int(n * test + 0.5)) if test else 0
    every = ["x\n", *lines, *([last] if last else [])]
    cuts = [0, n - n_valid - n_test, n - n_test, n]
    want = ["".join(every[a:b]) for a, b in itertools.pairwise(cuts)]
    parts = split_text(scan_text(tmp_path / "t.txt"), valid, test)
    assert [p if isinstance(p, str) else p.read() for p in parts] == want
    assert list(split_text(text, valid, test)) == want
    assert all(isinstance(p, TextSource) or p == "" for p in parts)


def test_a_folder_reads_as_its_files_joined_with_newlines(tmp_path, chunk):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "2.txt").write_text("b two\n")
    (tmp_path / "b" / "1.txt").write_text("b one")  # no final newline
    (tmp_path / "a.txt").write_text("a\r\nsecond line of a\n")
    (tmp_path / "c.txt.gz").write_bytes(gzip.compress(b"c"))
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / ".hidden").write_text("hidden\n")
    source = scan_text(tmp_path)
    assert source.read() == "a\nsecond line of a\nb one\nb two\nc\n"
    assert source.num_lines == 5
    assert source.lines(1, 3).read() == "second line of a\nb one\n"
    assert source.lines(4, 5).read() == "c\n"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"ok\n" * 9 + b"ab\xffc\n", r"t\.txt:10:3: not UTF-8 \(byte 0xff\)"),
        (b"ok\n" * 9 + "é\x00\n".encode(), r"t\.txt:10:2: binary file \(NUL byte at offset 29\)"),
    ],
)
def test_a_bad_byte_in_a_later_piece_names_its_line_column_and_offset(tmp_path, data, message):
    path = tmp_path / "t.txt"
    path.write_bytes(data)
    for size in (4, 1 << 20):
        text_files.CHUNK_BYTES, old = size, text_files.CHUNK_BYTES
        try:
            with pytest.raises(UserError, match=message):
                scan_text(path, option="data")
        finally:
            text_files.CHUNK_BYTES = old


def test_a_scan_holds_a_piece_not_the_file(tmp_path, monkeypatch):
    path = tmp_path / "big.txt"
    path.write_text("one two three four five six\n" * 150_000)  # 4.2 MB
    monkeypatch.setattr(text_files, "CHUNK_BYTES", 1 << 16)
    tracemalloc.start()
    try:
        source = scan_text(path)
        digest = source.sha256()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest()
    assert source.num_lines == 150_000
    assert peak < 1_000_000  # a few pieces of 64 KiB, not the 4.2 MB file


def test_load_corpus_keeps_files_as_sources_and_reads_them_on_demand(tmp_path, chunk):
    text = "".join(f"line {k}\n" for k in range(100))
    (tmp_path / "c.txt").write_text(text)
    corpus = load_corpus(tmp_path / "c.txt", valid_fraction=0.1, test_fraction=0.2)
    assert all(isinstance(corpus.stream(name), TextSource) for name in ("train", "valid", "test"))
    lines = text.splitlines(keepends=True)
    assert corpus.train == "".join(lines[:70])
    assert corpus.valid == "".join(lines[70:80])
    assert corpus.test == "".join(lines[80:])
    assert corpus.fingerprint() == hashlib.sha256("".join(lines[:70]).encode()).hexdigest()
    assert corpus.fingerprint() == Corpus(corpus.train, "", "", corpus.sources).fingerprint()
    assert corpus.has("test")
    no_test = load_corpus(tmp_path / "c.txt", test_fraction=0)
    assert not no_test.has("test")
    assert no_test.test == ""


def test_a_blank_part_has_no_text(tmp_path):
    (tmp_path / "tr.txt").write_text("words here\n" * 5)
    (tmp_path / "te.txt").write_text("words\n")
    corpus = load_corpus(train=tmp_path / "tr.txt", test=tmp_path / "te.txt")
    assert corpus.has("test")
    assert Corpus("a\n", "b\n", " \n\n").has("test") is False
    with pytest.raises(UserError, match=r"^name: expected train, valid or test, got 'dev'$"):
        corpus.stream("dev")
