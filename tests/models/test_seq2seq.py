"""The sequence-to-sequence model: encoder, bridge, decoder paths, loss, configuration."""

import pytest
import torch
import torch.nn.functional as F
from torch.autograd import gradcheck

from lstmkit.errors import UserError
from lstmkit.models.attention import Memory
from lstmkit.models.seq2seq import DecoderState, Seq2Seq, Seq2SeqConfig, build_seq2seq

PAD, BOS, EOS = 0, 2, 3
VARIANTS = {
    "none": {"attention": "none"},
    "none-unidirectional": {"attention": "none", "bidirectional": False},
    "bahdanau": {"attention": "bahdanau"},
    "luong-general": {"attention": "luong"},
    "luong-feeding": {"attention": "luong", "input_feeding": True},
    "luong-dot": {"attention": "luong", "luong_score": "dot", "bidirectional": False},
    "tied": {"attention": "bahdanau", "tie_tgt_embeddings": True},
}


def small(**kw):
    cfg = {
        "src_vocab_size": 11,
        "tgt_vocab_size": 9,
        "embedding_size": 5,
        "hidden_size": 6,
        "num_layers": 2,
        "dropout": 0.0,
        "attention": "bahdanau",
    } | kw
    return build_seq2seq(Seq2SeqConfig(**cfg)).eval()


def batch():
    """Three sentences of different lengths, unsorted, padded; targets bos…/…eos, padded."""
    src_lengths = torch.tensor([4, 6, 2])
    src = torch.randint(4, 11, (3, 6))
    src = src.masked_fill(torch.arange(6) >= src_lengths.unsqueeze(1), PAD)
    body = [[5, 4, 7], [6, 8, 4, 5, 7], [8]]
    T = max(len(b) for b in body) + 1
    tgt_in = torch.full((3, T), PAD)
    tgt_out = torch.full((3, T), PAD)
    for i, ids in enumerate(body):
        tgt_in[i, : len(ids) + 1] = torch.tensor([BOS, *ids])
        tgt_out[i, : len(ids) + 1] = torch.tensor([*ids, EOS])
    return src, src_lengths, tgt_in, tgt_out


def loop_loss(model, src, src_lengths, tgt_in, tgt_out):
    """Cross-entropy of the decode_step loop, summed by hand over the non-pad targets."""
    memory, state = model.encode(src, src_lengths)
    total, count = 0.0, 0
    for t in range(tgt_in.shape[1]):
        logits, state = model.decode_step(tgt_in[:, t], state, memory)
        logp = logits.log_softmax(-1)
        for b in range(src.shape[0]):
            if tgt_out[b, t] != PAD:
                total = total - logp[b, tgt_out[b, t]]
                count += 1
    return total / count, count


@pytest.mark.parametrize("variant", VARIANTS)
def test_teacher_forced_loss_equals_the_loop_of_decode_step(variant):
    model = small(**VARIANTS[variant])
    src, src_lengths, tgt_in, tgt_out = batch()
    loss, n = model.loss(src, src_lengths, tgt_in, tgt_out)
    want, want_n = loop_loss(model, src, src_lengths, tgt_in, tgt_out)
    assert n == want_n == 12
    torch.testing.assert_close(loss, want)


@pytest.mark.parametrize("variant", ["none", "luong-general", "bahdanau"])
def test_loss_ignores_padding(variant):
    model = small(**VARIANTS[variant])
    src, src_lengths, tgt_in, tgt_out = batch()
    loss, n = model.loss(src, src_lengths, tgt_in, tgt_out)
    # More pad columns on the source and on the targets.
    longer_src = F.pad(src, (0, 3), value=PAD)
    more_in, more_out = F.pad(tgt_in, (0, 2), value=PAD), F.pad(tgt_out, (0, 2), value=PAD)
    loss2, n2 = model.loss(longer_src, src_lengths, more_in, more_out)
    assert n2 == n
    torch.testing.assert_close(loss2, loss)


@pytest.mark.parametrize("variant", ["bahdanau", "luong-feeding"])
def test_padded_source_positions_do_not_change_the_outputs(variant):
    model = small(**VARIANTS[variant])
    src, src_lengths, tgt_in, _ = batch()
    noisy = torch.where(
        torch.arange(6) >= src_lengths.unsqueeze(1), torch.randint(4, 11, src.shape), src
    )
    assert not torch.equal(noisy, src)
    logits, weights = model.logits(src, src_lengths, tgt_in)
    logits2, weights2 = model.logits(noisy, src_lengths, tgt_in)
    torch.testing.assert_close(logits2, logits)
    torch.testing.assert_close(weights2, weights)
    assert torch.all(weights[2, :, 2:] == 0)  # sentence 2 has 2 source tokens


def test_label_smoothing_matches_torch_and_the_formula():
    model = small(attention="luong")
    src, src_lengths, tgt_in, tgt_out = batch()
    eps = 0.1
    loss, _ = model.loss(src, src_lengths, tgt_in, tgt_out, label_smoothing=eps)
    logits, _ = model.logits(src, src_lengths, tgt_in)
    flat, gold = logits.reshape(-1, 9), tgt_out.reshape(-1)
    torch_loss = F.cross_entropy(flat, gold, ignore_index=PAD, label_smoothing=eps)
    keep = gold != PAD
    logp = flat[keep].log_softmax(-1)
    nll = -logp.gather(1, gold[keep].unsqueeze(1)).squeeze(1)
    formula = ((1 - eps) * nll + eps * -logp.mean(-1)).mean()
    torch.testing.assert_close(loss, torch_loss)
    torch.testing.assert_close(loss, formula)


def test_encoder_with_lengths_equals_each_sentence_alone():
    model = small()
    src, src_lengths, _, _ = batch()
    states, (h, c) = model.encoder(src, src_lengths)
    assert states.shape == (3, 6, 12)
    assert h.shape == c.shape == (4, 3, 6)
    for b, n in enumerate(src_lengths.tolist()):
        alone, (h1, c1) = model.encoder(src[b : b + 1, :n], torch.tensor([n]))
        torch.testing.assert_close(states[b, :n], alone[0])
        torch.testing.assert_close(h[:, b], h1[:, 0])
        torch.testing.assert_close(c[:, b], c1[:, 0])
        assert torch.all(states[b, n:] == 0)


def test_bridge_maps_each_layers_two_directions():
    model = small(num_layers=3)
    h_n, c_n = torch.randn(6, 2, 6), torch.randn(6, 2, 6)  # (L*D, B, H): layer*2 + direction
    h0, c0 = model.bridge(h_n, c_n)
    assert h0.shape == c0.shape == (3, 2, 6)
    for layer in range(3):
        w_h = torch.cat([h_n[2 * layer], h_n[2 * layer + 1]], -1)  # (B, 2H): [forward; backward]
        w_c = torch.cat([c_n[2 * layer], c_n[2 * layer + 1]], -1)
        lin_h, lin_c = model.bridge.h_layers[layer], model.bridge.c_layers[layer]
        torch.testing.assert_close(h0[layer], torch.tanh(w_h @ lin_h.weight.T + lin_h.bias))
        torch.testing.assert_close(c0[layer], w_c @ lin_c.weight.T + lin_c.bias)


@pytest.mark.parametrize("variant", ["bahdanau", "luong-feeding", "none"])
def test_gradcheck_of_one_decode_step(variant):
    model = small(**VARIANTS[variant], num_layers=1).double()
    B, S, H = 2, 4, 6
    gen = torch.Generator().manual_seed(3)
    states = torch.randn(B, S, 12, dtype=torch.float64, generator=gen, requires_grad=True)
    h = torch.randn(1, B, H, dtype=torch.float64, generator=gen, requires_grad=True)
    c = torch.randn(1, B, H, dtype=torch.float64, generator=gen, requires_grad=True)
    feed = torch.randn(B, H, dtype=torch.float64, generator=gen, requires_grad=True)
    mask = torch.tensor([[True] * 4, [True, True, False, False]])
    tokens = torch.tensor([BOS, 5])

    def fn(states, h, c, feed):
        keys = None if model.attention is None else model.attention.keys(states)
        state = DecoderState(h, c, feed if model.decoder.input_feeding else None)
        logits, new = model.decode_step(tokens, state, Memory(states, keys, mask))
        return logits, new.h, new.c

    assert gradcheck(fn, (states, h, c, feed), eps=1e-6, atol=1e-6)


def test_input_feeding_feeds_the_attentional_state_back():
    model = small(attention="luong", input_feeding=True)
    assert model.decoder.lstm.input_size == 5 + 6  # E + H
    src, src_lengths, tgt_in, _ = batch()
    memory, state = model.encode(src, src_lengths)
    assert torch.equal(state.feed, torch.zeros(3, 6))  # õ_0 = 0
    logits, new = model.decode_step(tgt_in[:, 0], state, memory)
    # õ_1 = tanh(W_c [h_1; ctx_1]) is what the output layer reads and what the next step gets.
    context = torch.stack([new.weights[b] @ memory.states[b] for b in range(3)])
    combine = model.decoder.combine
    want = torch.tanh(torch.cat([new.h[-1], context], -1) @ combine.weight.T + combine.bias)
    torch.testing.assert_close(new.feed, want)
    torch.testing.assert_close(logits, model.decoder.output(want))
    other, _ = model.decode_step(tgt_in[:, 1], new._replace(feed=torch.randn(3, 6)), memory)
    same, _ = model.decode_step(tgt_in[:, 1], new, memory)
    assert not torch.allclose(other, same)


def test_teacher_forcing_zero_feeds_back_the_greedy_prediction():
    model = small(attention="luong")
    src, src_lengths, tgt_in, _ = batch()
    logits, _ = model.logits(src, src_lengths, tgt_in, teacher_forcing=0.0)
    memory, state = model.encode(src, src_lengths)
    tokens = tgt_in[:, 0]
    for t in range(tgt_in.shape[1]):
        step, state = model.decode_step(tokens, state, memory)
        torch.testing.assert_close(logits[:, t], step)
        tokens = step.argmax(-1)
    gold, _ = model.logits(src, src_lengths, tgt_in)
    assert not torch.allclose(gold[:, 1:], logits[:, 1:])


def test_overfits_reversing_five_tokens():
    torch.manual_seed(0)
    model = small(
        src_vocab_size=10,
        tgt_vocab_size=10,
        embedding_size=16,
        hidden_size=32,
        num_layers=1,
        attention="luong",
        input_feeding=False,
    ).train()
    opt = torch.optim.Adam(model.parameters(), lr=0.01)

    def reverse_batch(n):
        src = torch.randint(4, 10, (n, 5))
        tgt = src.flip(1)
        tgt_in = torch.cat([torch.full((n, 1), BOS), tgt], 1)
        tgt_out = torch.cat([tgt, torch.full((n, 1), EOS)], 1)
        return src, torch.full((n,), 5), tgt_in, tgt_out

    for _ in range(200):
        loss, _ = model.loss(*reverse_batch(32))
        opt.zero_grad()
        loss.backward()
        opt.step()
    from lstmkit.decode import greedy

    src, lengths, _, _ = reverse_batch(50)
    out = greedy(model, src, lengths, max_len=8)
    right = sum(h.tokens == s.flip(0).tolist() for h, s in zip(out, src, strict=True))
    assert loss.item() < 0.05
    assert right == 50


def test_embedding_init_normal_by_default_or_scaled_by_width():
    torch.manual_seed(0)
    cfg = {"src_vocab_size": 400, "tgt_vocab_size": 300, "embedding_size": 64}
    default = build_seq2seq(Seq2SeqConfig(**cfg))
    scaled = build_seq2seq(Seq2SeqConfig(**cfg, embedding_init="scaled"))
    for model, std in ((default, 1.0), (scaled, 64**-0.5)):
        for embed in (model.encoder.embed, model.decoder.embed):
            assert abs(embed.weight.std().item() - std) < 0.05 * std
    with pytest.raises(UserError, match="embedding_init: expected one of normal, scaled"):
        Seq2SeqConfig(**cfg, embedding_init="xavier")


def test_tied_output_layer_shares_the_target_embeddings():
    model = small(tie_tgt_embeddings=True)  # E=5 != H=6: a linear map H → E comes first
    assert model.decoder.output.weight is model.decoder.embed.weight
    assert model.decoder.project.weight.shape == (5, 6)
    assert small(tie_tgt_embeddings=True, embedding_size=6).decoder.project is None


def test_config_errors_name_the_field():
    base = {"src_vocab_size": 11, "tgt_vocab_size": 9}
    cases = [
        ({"hidden_size": 0}, "hidden_size: expected an integer >= 1, got 0"),
        ({"attention": "dot"}, "attention: expected one of none, bahdanau, luong, got 'dot'"),
        ({"luong_score": "concat"}, "luong_score: expected one of dot, general"),
        ({"attention": "bahdanau", "input_feeding": True}, "input_feeding: only Luong attention"),
        ({"attention": "luong", "luong_score": "dot"}, "luong_score: 'dot' needs"),
        ({"eos_id": 9}, "eos_id: expected an id below the vocabulary size 9, got 9"),
        ({"bos_id": 0}, "bos_id, eos_id: expected ids different"),
        ({"dropout": 1.0}, r"dropout: expected a probability in \[0, 1\), got 1.0"),
        ({"bidirectional": "yes"}, "bidirectional: expected true or false"),
    ]
    for change, message in cases:
        with pytest.raises(UserError, match=message):
            Seq2SeqConfig(**(base | change))


def test_argument_errors_name_the_argument():
    model = small()
    src, src_lengths, tgt_in, tgt_out = batch()
    with pytest.raises(ValueError, match=r"src_lengths: expected shape \(3,\), got \(2,\)"):
        model.encode(src, src_lengths[:2])
    with pytest.raises(ValueError, match="tgt_out: expected"):
        model.loss(src, src_lengths, tgt_in, tgt_out[:, :-1])
    with pytest.raises(ValueError, match="label_smoothing: expected a value in"):
        model.loss(src, src_lengths, tgt_in, tgt_out, label_smoothing=1.0)
    with pytest.raises(
        ValueError, match="attention: the decoder was built for 'bahdanau', got 'luong'"
    ):
        Seq2Seq(model.encoder, model.decoder, model.bridge, small(attention="luong").attention)
