"""Reading, splitting and batching plain text: messages name file, line and column."""

import gzip
import itertools

import pytest
import torch

from lstmkit.data import batchify, bptt_batches, num_windows, read_corpus, read_text, split_text
from lstmkit.errors import UserError

# ---------------------------------------------------------------- reading


def test_missing_path_names_option_and_path(tmp_path):
    path = tmp_path / "nope.txt"
    with pytest.raises(UserError) as info:
        read_text(path)
    assert str(info.value) == f"path: no such file or folder: {path}"
    with pytest.raises(UserError, match=r"^train: no such file or folder"):
        read_text(path, option="train")


@pytest.mark.parametrize("content", [b"", b"  \n\n\t\n"], ids=["empty", "blank"])
def test_file_without_text(tmp_path, content):
    path = tmp_path / "empty.txt"
    path.write_bytes(content)
    with pytest.raises(UserError, match=r"^path: file .*empty\.txt holds no text"):
        read_text(path)


def test_folder_without_files_or_text(tmp_path):
    (tmp_path / ".hidden.txt").write_text("hidden words\n")
    with pytest.raises(UserError, match=r"has no files \(hidden ones are skipped\)"):
        read_corpus(tmp_path)
    (tmp_path / "a.txt").write_text("\n")
    with pytest.raises(UserError, match=r"^path: folder .* holds no text"):
        read_corpus(tmp_path)


def test_binary_file_names_line_column_and_offset(tmp_path):
    path = tmp_path / "model.bin"
    path.write_bytes(b"ab\ncd\x00ef")
    with pytest.raises(UserError) as info:
        read_text(path)
    assert str(info.value) == (
        f"{path}:2:3: binary file (NUL byte at offset 5); expected UTF-8 text"
    )


def test_non_utf8_names_line_and_column_in_characters(tmp_path):
    path = tmp_path / "data.txt"
    # Line 3 starts with "é" (two bytes), so the bad byte is the third character, not byte 4.
    path.write_bytes(b"line one\nline two\n\xc3\xa9t\xff rest\n")
    with pytest.raises(UserError) as info:
        read_text(path)
    assert str(info.value) == f"{path}:3:3: not UTF-8 (byte 0xff); expected UTF-8 text"


def test_utf16_is_named(tmp_path):
    path = tmp_path / "wide.txt"
    path.write_bytes("hello\n".encode("utf-16"))
    with pytest.raises(UserError, match=r"wide\.txt:1:1: UTF-16 text"):
        read_text(path)


def test_crlf_and_bom_normalised(tmp_path):
    path = tmp_path / "win.txt"
    path.write_bytes(b"\xef\xbb\xbfone\r\ntwo\r\n")
    assert read_text(path) == "one\ntwo\n"


def test_gzip_is_decompressed_and_checked(tmp_path):
    good = tmp_path / "a.txt.gz"
    good.write_bytes(gzip.compress(b"hello\r\nworld\n"))
    assert read_text(good) == "hello\nworld\n"
    bad_utf8 = tmp_path / "b.txt.gz"
    bad_utf8.write_bytes(gzip.compress(b"ok\n\xfe\n"))
    with pytest.raises(UserError, match=r"b\.txt\.gz:2:1: not UTF-8 \(byte 0xfe\)"):
        read_text(bad_utf8)
    not_gzip = tmp_path / "c.txt.gz"
    not_gzip.write_bytes(b"plain text")
    with pytest.raises(UserError, match=r"c\.txt\.gz: not a valid gzip file"):
        read_text(not_gzip)


def test_folder_order_is_sorted_recursive_and_skips_hidden(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / ".git").mkdir()
    (tmp_path / "b" / "2.txt").write_text("b two\n")
    (tmp_path / "b" / "1.txt").write_text("b one")  # no final newline
    (tmp_path / "a.txt").write_text("a\n")
    (tmp_path / "c.txt.gz").write_bytes(gzip.compress(b"c\n"))
    (tmp_path / ".notes.txt").write_text("hidden\n")
    (tmp_path / ".git" / "HEAD").write_text("ref\n")
    corpus = read_corpus(tmp_path)
    names = [path.relative_to(tmp_path).as_posix() for path, _ in corpus]
    assert names == ["a.txt", "b/1.txt", "b/2.txt", "c.txt.gz"]
    # Joined in that order, a newline added where a file lacks one so lines never merge.
    assert read_text(tmp_path) == "a\nb one\nb two\nc\n"


def test_binary_file_in_folder_is_named(tmp_path):
    (tmp_path / "a.txt").write_text("words\n")
    (tmp_path / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    with pytest.raises(UserError, match=r"logo\.png:3:1: binary file \(NUL byte at offset 8\)"):
        read_corpus(tmp_path)


# ---------------------------------------------------------------- splitting


def test_split_sizes_order_and_no_overlap():
    lines = [f"line {k}\n" for k in range(100)]
    text = "".join(lines)
    train, valid, test = split_text(text, valid_fraction=0.1, test_fraction=0.2)
    assert train == "".join(lines[:70])
    assert valid == "".join(lines[70:80])
    assert test == "".join(lines[80:])
    assert split_text(text, valid_fraction=0.1, test_fraction=0.2) == (train, valid, test)


def test_split_keeps_every_character_and_splits_on_newline_only():
    # Form feed and U+2028 are line breaks to str.splitlines, but not to a corpus.
    text = "a\x0cb\nc\u2028d\ne\r\nf"
    train, valid, test = split_text(text, valid_fraction=0.25, test_fraction=0.25)
    assert train + valid + test == text
    assert (train, valid, test) == ("a\x0cb\nc\u2028d\n", "e\r\n", "f")


def test_split_gives_each_part_a_line_and_zero_fraction_none():
    text = "".join(f"{k}\n" for k in range(10))
    assert split_text(text) == ("".join(f"{k}\n" for k in range(8)), "8\n", "9\n")
    assert split_text(text, valid_fraction=0, test_fraction=0) == (text, "", "")


def test_split_too_short():
    with pytest.raises(UserError) as info:
        split_text("one\ntwo\n")
    assert str(info.value) == (
        "text too short to split: expected at least 3 lines (one for each part), got 2"
    )


@pytest.mark.parametrize(
    ("valid", "test", "name"),
    [(1.0, 0.1, "valid_fraction"), (0.1, -0.1, "test_fraction"), (0.5, 0.5, "valid_fraction +")],
)
def test_split_bad_fractions(valid, test, name):
    with pytest.raises(UserError, match=f"^{name}"):
        split_text("a\nb\nc\n", valid_fraction=valid, test_fraction=test)


# ---------------------------------------------------------------- batching


def test_batchify_streams_are_contiguous():
    streams = batchify(torch.arange(103), 4)
    assert streams.shape == (4, 25)
    for b in range(4):
        assert streams[b].tolist() == list(range(25 * b, 25 * b + 25))


def test_batchify_errors():
    with pytest.raises(UserError) as info:
        batchify(torch.arange(3), 4)
    assert str(info.value) == (
        "batch_size 4 is larger than the data: 3 tokens; expected at least one token per stream"
    )
    with pytest.raises(UserError, match=r"^batch_size: expected a positive integer, got 0"):
        batchify(torch.arange(3), 0)
    with pytest.raises(UserError, match=r"^ids: expected a 1-D tensor"):
        batchify(torch.zeros(2, 3, dtype=torch.long), 1)


def test_bptt_windows_shapes_and_shift_across_boundaries():
    streams = batchify(torch.arange(4 * 23), 4)  # (4, 23): 22 input steps per stream
    windows = list(bptt_batches(streams, 5))
    assert [tuple(x.shape) for x, _ in windows] == [(4, 5)] * 4 + [(4, 2)]
    assert all(x.shape == y.shape for x, y in windows)
    assert num_windows(streams, 5) == 5
    xs = torch.cat([x for x, _ in windows], dim=1)
    ys = torch.cat([y for _, y in windows], dim=1)
    # Every stream read once, in order, and the targets are the inputs one step later: also
    # at a window boundary, where y's last step is the next window's first input.
    assert torch.equal(xs, streams[:, :-1])
    assert torch.equal(ys, xs + 1)
    for (_, y), (x_next, _) in itertools.pairwise(windows):
        assert torch.equal(y[:, -1], x_next[:, 0])


def test_bptt_resume_from_start():
    streams = batchify(torch.arange(60), 3)  # (3, 20): windows of 4, 4, 4, 4, 3
    full = list(bptt_batches(streams, 4))
    resumed = list(bptt_batches(streams, 4, start=3))
    assert len(resumed) == 2
    for (x, y), (x_ref, y_ref) in zip(resumed, full[3:], strict=True):
        assert torch.equal(x, x_ref)
        assert torch.equal(y, y_ref)
    assert list(bptt_batches(streams, 4, start=5)) == []
    with pytest.raises(UserError, match=r"^start: expected a window index in \[0, 5\], got 6"):
        bptt_batches(streams, 4, start=6)  # raises at the call, before any iteration


def test_bptt_longer_than_data():
    streams = torch.zeros(32, 12, dtype=torch.long)
    with pytest.raises(UserError) as info:
        bptt_batches(streams, 70)
    assert str(info.value) == (
        "bptt 70 is longer than the data: 12 tokens per stream at batch size 32 "
        "(expected at most 11)"
    )
    assert len(list(bptt_batches(streams, 11))) == 1
    with pytest.raises(UserError, match=r"^bptt: expected a positive integer, got 0"):
        bptt_batches(streams, 0)
