"""Greedy decoding and sampling, checked against the teacher-forced path of the model."""

import pytest
import torch

from lstmkit.decode import greedy, sample
from lstmkit.errors import UserError
from lstmkit.models.seq2seq import Seq2SeqConfig, build_seq2seq

PAD, BOS, EOS = 0, 2, 3


def small(**kw):
    cfg = {
        "src_vocab_size": 10,
        "tgt_vocab_size": 8,
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


def reference_log_probs(model, src, src_lengths, tokens):
    """Per step log-probabilities (T+1, V) of one sentence given the output ``tokens``, from the
    teacher-forced path, with pad and bos removed from the softmax."""
    tgt_in = torch.tensor([[BOS, *tokens]])
    with torch.no_grad():
        logits, _ = model.eval().logits(src[None], src_lengths[None], tgt_in)
    logits[..., [PAD, BOS]] = -torch.inf
    return logits[0].log_softmax(-1)


@pytest.mark.parametrize("attention", ["none", "bahdanau", "luong"])
def test_each_token_is_the_argmax_and_the_score_the_log_probability(attention):
    model = small(attention=attention)
    src, src_lengths = source()
    for b, hyp in enumerate(greedy(model, src, src_lengths, max_len=6)):
        logp = reference_log_probs(model, src[b], src_lengths[b], hyp.tokens)
        ended = len(hyp.tokens) < 6
        path = [*hyp.tokens, EOS]
        for t, token in enumerate(path):
            if t < 6:
                assert logp[t].argmax() == token
        assert ended or len(hyp.tokens) == 6
        want = sum(logp[t, token] for t, token in enumerate(path))
        assert hyp.score == pytest.approx(float(want), abs=1e-5)
        assert not {PAD, BOS, EOS} & set(hyp.tokens)


def test_max_len_ends_every_sentence_with_the_eos_probability():
    model = small(attention="luong")
    with torch.no_grad():  # make eos unlikely: the limit has to end the sentences
        model.decoder.output.bias[EOS] = -20
    src, src_lengths = source()
    for b, hyp in enumerate(greedy(model, src, src_lengths, max_len=4)):
        assert len(hyp.tokens) == 4
        logp = reference_log_probs(model, src[b], src_lengths[b], hyp.tokens)
        want = sum(logp[t, token] for t, token in enumerate([*hyp.tokens, EOS]))
        assert hyp.score == pytest.approx(float(want), abs=1e-4)


def test_max_len_ratio_limits_each_sentence_by_its_source_length():
    model = small()
    with torch.no_grad():
        model.decoder.output.bias[EOS] = -20
    src, src_lengths = source()
    out = greedy(model, src, src_lengths, max_len=None, max_len_ratio=1.5)
    assert [len(h.tokens) for h in out] == [5, 8, 2]  # ceil(1.5 * length)


def test_a_batch_equals_each_sentence_alone_and_attention_is_kept():
    model = small(attention="bahdanau")
    src, src_lengths = source()
    together = greedy(model, src, src_lengths, max_len=6)
    for b, hyp in enumerate(together):
        n = int(src_lengths[b])
        (alone,) = greedy(model, src[b : b + 1, :n], src_lengths[b : b + 1], max_len=6)
        assert alone.tokens == hyp.tokens
        assert alone.score == pytest.approx(hyp.score, abs=1e-5)
        steps = len(hyp.tokens) + 1  # the eos step included
        assert hyp.attention.shape == (steps, n)
        torch.testing.assert_close(hyp.attention.sum(-1), torch.ones(steps))


def test_decoding_restores_the_mode_and_builds_no_graph():
    model = small(attention="luong").train()
    src, src_lengths = source()
    out = greedy(model, src, src_lengths, max_len=3)
    assert model.training
    assert not out[0].attention.requires_grad
    with pytest.raises(ValueError, match="max_len, max_len_ratio: expected at least one"):
        greedy(model, src, src_lengths, max_len=None)


def test_sampling_with_top_k_1_is_greedy_and_a_generator_repeats_it():
    model = small(attention="luong")
    src, src_lengths = source()
    best = greedy(model, src, src_lengths, max_len=6)
    top1 = sample(model, src, src_lengths, max_len=6, top_k=1, temperature=0.7)
    assert [h.tokens for h in top1] == [h.tokens for h in best]
    draws = [
        sample(model, src, src_lengths, max_len=6, generator=torch.Generator().manual_seed(5))
        for _ in range(2)
    ]
    assert [h.tokens for h in draws[0]] == [h.tokens for h in draws[1]]
    for b, hyp in enumerate(draws[0]):  # the score is the model's own log-probability
        logp = reference_log_probs(model, src[b], src_lengths[b], hyp.tokens)
        want = sum(logp[t, token] for t, token in enumerate([*hyp.tokens, EOS][:7]))
        assert hyp.score == pytest.approx(float(want), abs=1e-4)


def test_sampling_draws_more_than_one_output():
    model = small()
    src, src_lengths = source()
    gen = torch.Generator().manual_seed(0)
    outs = {
        tuple(sample(model, src[:1], src_lengths[:1], max_len=5, generator=gen)[0].tokens)
        for _ in range(10)
    }
    assert len(outs) > 1


def test_sampling_errors_name_the_option():
    model = small()
    src, src_lengths = source()
    with pytest.raises(UserError, match=r"^temperature: expected a finite number > 0, got 0$"):
        sample(model, src, src_lengths, temperature=0)
