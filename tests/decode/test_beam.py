"""Beam search against brute-force enumeration, greedy decoding and itself per sentence."""

import itertools

import pytest
import torch

from lstmkit.decode import beam_search, greedy
from lstmkit.models.seq2seq import Seq2SeqConfig, build_seq2seq

PAD, BOS, EOS = 0, 2, 3


def small(tgt_vocab_size=8, **kw):
    cfg = {
        "src_vocab_size": 10,
        "tgt_vocab_size": tgt_vocab_size,
        "embedding_size": 5,
        "hidden_size": 6,
        "num_layers": 2,
        "dropout": 0.0,
    } | kw
    return build_seq2seq(Seq2SeqConfig(**cfg))


def source():
    src_lengths = torch.tensor([3, 5, 1])
    src = torch.randint(4, 10, (3, 5)).masked_fill(torch.arange(5) >= src_lengths[:, None], PAD)
    return src, src_lengths


def brute_force(model, src, src_length, max_len, alpha):
    """Every output of at most ``max_len`` tokens with its score, best first.

    Log-probabilities come from the teacher-forced path, pad and bos removed from the softmax;
    the score is log p(y eos) / ((5 + |y| + 1) / 6) ** alpha.
    """
    V = model.decoder.output.out_features
    words = [v for v in range(V) if v not in (PAD, BOS, EOS)]
    outputs = [list(y) for n in range(max_len + 1) for y in itertools.product(words, repeat=n)]
    T = max_len + 1
    tgt_in = torch.full((len(outputs), T), PAD)
    for i, y in enumerate(outputs):
        tgt_in[i, : len(y) + 1] = torch.tensor([BOS, *y])
    n = len(outputs)
    with torch.no_grad():
        logits, _ = model.eval().logits(
            src.expand(n, -1), src_length.expand(n), tgt_in
        )  # (n, T, V)
    logits[..., [PAD, BOS]] = -torch.inf
    logp = logits.double().log_softmax(-1)
    scored = []
    for i, y in enumerate(outputs):
        raw = sum(float(logp[i, t, token]) for t, token in enumerate([*y, EOS]))
        scored.append((y, raw / ((5 + len(y) + 1) / 6) ** alpha))
    return sorted(scored, key=lambda item: -item[1])


@pytest.mark.parametrize("alpha", [0.0, 1.5])
@pytest.mark.parametrize("attention", ["none", "luong"])
def test_a_wide_beam_finds_the_brute_force_best_and_n_best(attention, alpha):
    # V=6 leaves 3 output words; at most 27 * 4 = 108 candidates per step: a beam of 108
    # prunes nothing, and the search must be exact.
    model = small(tgt_vocab_size=6, attention=attention)
    with torch.no_grad():  # peaked distributions: with alpha > 0 the best outputs are long
        model.decoder.output.weight *= 8
    src, src_lengths = source()
    out = beam_search(
        model,
        src,
        src_lengths,
        beam_size=108,
        max_len=4,
        max_len_ratio=None,
        length_penalty=alpha,
        n_best=5,
    )
    for b, hyps in enumerate(out):
        want = brute_force(model, src[b], src_lengths[b], 4, alpha)[:5]
        assert [h.tokens for h in hyps] == [y for y, _ in want]
        assert [h.score for h in hyps] == pytest.approx([s for _, s in want], abs=1e-4)
        assert all(x.score >= y.score for x, y in itertools.pairwise(hyps))


@pytest.mark.parametrize("attention", ["none", "bahdanau", "luong"])
def test_beam_size_1_is_greedy(attention):
    model = small(attention=attention, input_feeding=attention == "luong")
    src, src_lengths = source()
    beams = beam_search(model, src, src_lengths, beam_size=1, max_len=6, max_len_ratio=None)
    for hyps, best in zip(beams, greedy(model, src, src_lengths, max_len=6), strict=True):
        (hyp,) = hyps
        assert hyp.tokens == best.tokens
        assert hyp.score == pytest.approx(best.score, abs=1e-5)
        torch.testing.assert_close(hyp.attention, best.attention)


@pytest.mark.parametrize("alpha", [0.0, 0.6])
def test_a_batch_equals_each_sentence_alone(alpha):
    model = small(attention="bahdanau")
    src, src_lengths = source()
    together = beam_search(
        model, src, src_lengths, beam_size=3, max_len_ratio=2.0, length_penalty=alpha, n_best=3
    )
    for b, hyps in enumerate(together):
        n = int(src_lengths[b])
        (alone,) = beam_search(
            model,
            src[b : b + 1, :n],
            src_lengths[b : b + 1],
            beam_size=3,
            max_len_ratio=2.0,
            length_penalty=alpha,
            n_best=3,
        )
        assert [h.tokens for h in alone] == [h.tokens for h in hyps]
        assert [h.score for h in alone] == pytest.approx([h.score for h in hyps], abs=1e-5)
        for h in hyps:
            assert len(h.tokens) <= 2 * n
            assert h.attention.shape == (len(h.tokens) + 1, n)
            assert not {PAD, BOS, EOS} & set(h.tokens)


def test_n_best_are_distinct_and_sorted():
    model = small(attention="luong")
    src, src_lengths = source()
    for hyps in beam_search(model, src, src_lengths, beam_size=4, max_len=5, n_best=4):
        assert len(hyps) == 4
        assert len({tuple(h.tokens) for h in hyps}) == 4
        assert all(x.score >= y.score for x, y in itertools.pairwise(hyps))


def test_arguments_are_checked():
    model = small()
    src, src_lengths = source()
    with pytest.raises(ValueError, match=r"n_best: expected an integer in \[1, beam_size=2\]"):
        beam_search(model, src, src_lengths, beam_size=2, n_best=3)
    with pytest.raises(ValueError, match="beam_size: expected a positive integer, got 0"):
        beam_search(model, src, src_lengths, beam_size=0)
