"""The speech task: padding, resumable batches, seeded SpecAugment and the validation CTC loss."""

import math

import pytest
import torch
import torch.nn.functional as F

from lstmkit.data.batching import batch_seed
from lstmkit.models.speech import CTCRecognizer, SpeechConfig
from lstmkit.speech.task import METRICS, SpeechTask, collate

N_MELS = 6
AUGMENT = {"freq_masks": 2, "freq_width": 3, "time_masks": 2, "time_fraction": 0.2}


def utterances(n, seed=0, ones=False):
    """``n`` (features (T, F), ids) pairs of 12-30 frames; utterance ``i``'s first id is
    ``i + 1`` so it can be told apart after batching."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n):
        T = int(torch.randint(12, 31, (), generator=gen))
        f = torch.ones(T, N_MELS) if ones else torch.randn(T, N_MELS, generator=gen)
        extra = torch.randint(1, 5, (int(torch.randint(0, 3, (), generator=gen)),), generator=gen)
        out.append((f.half(), [i + 1, *extra.tolist()]))
    return out


def task(train, valid=(), batch_size=3, seed=7, augment=None, scores=None):
    meta = {"config": {"model": {}}, "files": {"tokenizer/x": b"x"}, "seed": seed}
    return SpeechTask(train, list(valid), batch_size, meta, augment, scores)


def rows(batch):
    """Per utterance of a batch: (its id, its unpadded features, its targets)."""
    x, n, y, m = batch
    return [
        (int(y[b, 0]), x[b, : int(n[b])], y[b, : int(m[b])].tolist()) for b in range(x.shape[0])
    ]


def test_collate_pads_features_with_zeros_and_targets_past_their_length():
    a, b = torch.full((4, 2), 2.0).half(), torch.full((2, 2), 3.0).half()
    x, n, y, m = collate([a, b], [[5], [7, 8, 9]])
    assert x.dtype == torch.float32
    assert x.shape == (2, 4, 2)
    assert y.shape == (2, 3)
    assert y.dtype == torch.long
    assert n.tolist() == [4, 2]
    assert m.tolist() == [1, 3]
    assert torch.equal(x[0], a.float())
    assert torch.equal(x[1, :2], b.float())
    assert not x[1, 2:].any()  # padding frames are 0
    assert y.tolist() == [[5, 0, 0], [7, 8, 9]]


def test_collate_keeps_one_target_column_when_every_transcript_is_empty():
    _, _, y, m = collate([torch.ones(3, 2)], [[]])
    assert y.shape == (1, 1)
    assert m.tolist() == [0]


def test_an_epoch_holds_every_utterance_once_in_buckets_of_batch_size():
    train = utterances(10)
    t = task(train, batch_size=3)
    batches = list(t.batches(1, 0))
    assert len(batches) == t.num_batches() == math.ceil(10 / 3)
    seen = [row for batch in batches for row in rows(batch)]
    assert sorted(i for i, _, _ in seen) == list(range(1, 11))
    for i, features, targets in seen:  # without augmentation, the utterance as given
        assert torch.equal(features, train[i - 1][0].float())
        assert targets == train[i - 1][1]
    assert sorted(len(rows(b)) for b in batches) == [1, 3, 3, 3]


@pytest.mark.parametrize("augment", [None, AUGMENT])
def test_batches_from_a_start_are_the_tail_of_the_whole_epoch(augment):
    t = task(utterances(11), batch_size=2, augment=augment)
    whole = list(t.batches(3, 0))
    for start in (1, 4, len(whole) - 1, len(whole)):
        tail = list(t.batches(3, start))
        assert len(tail) == len(whole) - start
        for a, b in zip(whole[start:], tail, strict=True):
            assert all(torch.equal(p, q) for p, q in zip(a, b, strict=True))


def masks(t, epoch):
    """Per utterance id, where SpecAugment zeroed its (all-ones) features in ``epoch``."""
    return {i: f == 0 for batch in t.batches(epoch, 0) for i, f, _ in rows(batch)}


def test_spec_augment_masks_repeat_for_a_seed_and_epoch_and_change_with_either():
    train = utterances(8, ones=True)
    first = masks(task(train, augment=AUGMENT), 1)
    assert any(m.any() for m in first.values())  # something is masked
    again = masks(task(train, augment=AUGMENT), 1)
    assert all(torch.equal(first[i], again[i]) for i in first)
    next_epoch = masks(task(train, augment=AUGMENT), 2)
    other_seed = masks(task(train, seed=8, augment=AUGMENT), 1)
    for other in (next_epoch, other_seed):
        assert sum(not torch.equal(first[i], other[i]) for i in first) >= 4
    plain = masks(task(train), 1)
    assert not any(m.any() for m in plain.values())


def test_a_mask_covers_whole_bands_and_whole_frames():
    for m in masks(task(utterances(6, ones=True), augment=AUGMENT), 1).values():
        bands, frames = m.all(0), m.all(1)  # (F,), (T,)
        assert torch.equal(m, bands[None, :] | frames[:, None])


def test_augmentation_never_changes_the_task_s_own_features():
    train = utterances(4, ones=True)
    list(task(train, augment=AUGMENT).batches(1, 0))
    assert all(bool((f == 1).all()) for f, _ in train)


def test_batch_seed_is_a_63_bit_function_of_its_three_numbers():
    assert batch_seed(1, 2, 3) == batch_seed(1, 2, 3)
    seeds = {batch_seed(1, 2, 3), batch_seed(1, 3, 2), batch_seed(2, 2, 3), batch_seed(12, 2, 3)}
    assert len(seeds) == 4
    assert all(0 <= batch_seed(s, 1, 1) < 2**63 for s in range(20))


def test_evaluate_is_the_ctc_loss_summed_over_utterances_per_token():
    torch.manual_seed(0)
    config = SpeechConfig(vocab_size=12, n_mels=N_MELS, stack=2, hidden_size=8, num_layers=1)
    model = CTCRecognizer(config).eval()
    valid = utterances(7, seed=3)
    t = task(utterances(2), valid, batch_size=3)
    # One utterance at a time, no padding: torch's CTC loss summed, over all transcript tokens.
    total = 0.0
    for f, ids in valid:
        log_probs, out_lengths = model.log_probs(f.float()[None], torch.tensor([f.shape[0]]))
        total += F.ctc_loss(
            log_probs.transpose(0, 1),
            torch.tensor([ids]),
            out_lengths,
            torch.tensor([len(ids)]),
            blank=0,
            reduction="sum",
        ).item()
    expected = total / sum(len(ids) for _, ids in valid)
    found = t.evaluate(model)
    assert set(found) == {"loss"}
    assert found["loss"] == pytest.approx(expected, rel=1e-5)


def test_evaluate_adds_the_scores_and_metrics_name_them():
    model = CTCRecognizer(SpeechConfig(vocab_size=6, n_mels=N_MELS, hidden_size=4, num_layers=1))
    seen = []

    def scores(m):
        seen.append(m)
        return {"cer": 12.5, "wer": 50.0}

    t = task(utterances(2), utterances(2), scores=scores)
    assert t.metrics == METRICS == ("loss", "cer", "wer")
    found = t.evaluate(model)
    assert found["cer"] == 12.5
    assert found["wer"] == 50.0
    assert seen == [model]
    assert task(utterances(2)).metrics == ("loss",)


def test_shard_gives_a_rank_its_rows_with_only_the_padding_they_need():
    t = task(utterances(4))
    batch = collate(
        [torch.ones(9, 2), torch.ones(3, 2), torch.ones(2, 2), torch.ones(4, 2)],
        [[1, 2, 3], [4], [5], [6, 7]],
    )
    x, n, y, m = t.shard(batch, 1, 2)  # rows 2 and 3
    assert n.tolist() == [2, 4]
    assert m.tolist() == [1, 2]
    assert x.shape == (2, 4, 2)
    assert y.tolist() == [[5, 0], [6, 7]]


def test_the_run_config_and_files_are_the_meta_s():
    t = task(utterances(2))
    assert t.run_config() == {"model": {}}
    assert t.files() == {"tokenizer/x": b"x"}
