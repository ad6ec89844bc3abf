"""Token ids in a file, mapped back: the smallest type that holds the vocabulary, nothing lost."""

import numpy as np
import pytest
import torch

from lstmkit.data import batchify, bptt_batches, ids_dtype, write_ids
from lstmkit.errors import UserError


@pytest.mark.parametrize(
    ("vocab_size", "dtype"), [(5, np.uint16), (65536, np.uint16), (65537, np.uint32)]
)
def test_the_type_holds_the_largest_id(tmp_path, vocab_size, dtype):
    assert ids_dtype(vocab_size) == dtype
    pieces = [[0, vocab_size - 1], [], [vocab_size // 2]]
    ids = write_ids(pieces, tmp_path / "a.ids", vocab_size)
    assert isinstance(ids, np.memmap)
    assert ids.dtype == dtype
    assert ids.tolist() == [0, vocab_size - 1, vocab_size // 2]
    assert (tmp_path / "a.ids").stat().st_size == 3 * np.dtype(dtype).itemsize


def test_no_ids_and_ids_out_of_range(tmp_path):
    assert write_ids([[], []], tmp_path / "e.ids", 10).tolist() == []
    with pytest.raises(UserError, match=r"^ids: expected ids in \[0, 10\), got 3 to 10$"):
        write_ids([[3, 10]], tmp_path / "b.ids", 10)


def test_batches_of_a_memmap_are_the_tensors_batches(tmp_path):
    values = (np.arange(4 * 23 + 3) * 7919) % 1000
    mapped = write_ids([values[:50].tolist(), values[50:].tolist()], tmp_path / "m.ids", 1000)
    streams = batchify(mapped, 4)
    assert isinstance(streams, np.memmap)  # a view of the file, not a copy
    assert streams.shape == (4, 23)
    tensor_windows = list(bptt_batches(batchify(torch.tensor(values), 4), 5, start=1))
    mapped_windows = list(bptt_batches(streams, 5, start=1))
    assert len(mapped_windows) == len(tensor_windows) == 4
    for (x, y), (tx, ty) in zip(mapped_windows, tensor_windows, strict=True):
        assert x.dtype == y.dtype == torch.int64
        assert torch.equal(x, tx)
        assert torch.equal(y, ty)
    # window k of stream b: tokens b*23 + 5k ... (the formula, not the code's own output)
    x, y = mapped_windows[0]
    assert x[2].tolist() == values[2 * 23 + 5 : 2 * 23 + 10].tolist()
    assert y[2].tolist() == values[2 * 23 + 6 : 2 * 23 + 11].tolist()
