"""The seq2seq task: bucketed batches, padding, and the trainer's contract (batches by epoch)."""

import torch

from lstmkit.models import Seq2SeqConfig, build_seq2seq
from lstmkit.seq2seq.task import Seq2SeqTask, bucketed_batches, collate


def lengths(n):
    gen = torch.Generator().manual_seed(0)
    return [tuple(torch.randint(1, 20, (2,), generator=gen).tolist()) for _ in range(n)]


def test_every_pair_is_in_exactly_one_batch_of_similar_lengths():
    sizes = lengths(103)
    batches = bucketed_batches(sizes, 10, seed=1)
    assert sorted(i for b in batches for i in b) == list(range(103))
    assert sorted(len(b) for b in batches) == [3] + [10] * 10
    spread = [max(sizes[i][0] for i in b) - min(sizes[i][0] for i in b) for b in batches]
    assert max(spread) <= 4  # sorted by source length: 19 lengths over 11 batches


def test_batch_order_depends_on_the_seed_alone():
    sizes = lengths(50)
    assert bucketed_batches(sizes, 8, "0-3") == bucketed_batches(sizes, 8, "0-3")
    assert bucketed_batches(sizes, 8, "0-3") != bucketed_batches(sizes, 8, "0-4")


def test_task_batches_resume_at_any_index_of_the_epoch():
    pairs = [([4 + k % 5] * (1 + k % 7), [5] * (1 + k % 3)) for k in range(40)]
    meta = {"config": {"model": {"pad_id": 0, "bos_id": 2, "eos_id": 3}}, "seed": 0}
    task = Seq2SeqTask(pairs, pairs[:5], batch_size=6, meta=meta)
    whole = list(task.batches(epoch=2, start=0))
    rest = list(task.batches(epoch=2, start=4))
    assert task.num_batches() == len(whole) == 7
    for a, b in zip(whole[4:], rest, strict=True):
        assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def test_validation_loss_is_the_token_weighted_mean_of_the_model_loss():
    torch.manual_seed(0)
    model = build_seq2seq(Seq2SeqConfig(9, 9, embedding_size=4, hidden_size=4, num_layers=1))
    pairs = [([4, 5, 6][: 1 + k % 3], [7, 8][: 1 + k % 2]) for k in range(9)]
    meta = {"config": {"model": {"pad_id": 0, "bos_id": 2, "eos_id": 3}}, "seed": 0}
    metrics = Seq2SeqTask(pairs, pairs, batch_size=4, meta=meta).evaluate(model.eval())
    src, lengths_, tgt_in, tgt_out = collate(pairs, 0, 2, 3)  # all at once: the same mean
    with torch.no_grad():
        expected, _ = model.loss(src, lengths_, tgt_in, tgt_out)
    assert abs(metrics["loss"] - expected.item()) < 1e-5
