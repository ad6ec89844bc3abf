"""The captioning network: shapes, the gating scalar and the doubly stochastic penalty against
their formulas, the decoders of lstmkit.decode, a pretrained (and a frozen) encoder."""

import pytest
import torch

from lstmkit.decode import beam_search, greedy
from lstmkit.errors import UserError
from lstmkit.models.caption import (
    CaptionConfig,
    ConvEncoder,
    build_captioner,
    load_encoder_state,
)
from lstmkit.models.decoder import Decoder

V = 11


def tiny(**overrides):
    settings = dict(vocab_size=V, channels=(4, 6), embedding_size=5, hidden_size=7, dropout=0.0)
    torch.manual_seed(0)
    return build_captioner(CaptionConfig(**{**settings, **overrides}))


def targets(B=2, T=4):
    tgt_in = torch.randint(4, V, (B, T))
    tgt_in[:, 0] = 2
    tgt_out = torch.cat([tgt_in[:, 1:], torch.full((B, 1), 3)], 1)
    tgt_in[1, 3], tgt_out[1, 2:] = 0, torch.tensor([3, 0])  # the second caption is shorter
    return tgt_in, tgt_out


@pytest.mark.parametrize("attention", ["bahdanau", "none"])
def test_shapes(attention):
    model = tiny(attention=attention, gate=attention == "bahdanau")
    images = torch.randn(2, 3, 16, 12)
    memory, state = model.encode(images)
    assert memory.states.shape == (2, 12, 6)  # a 4x3 grid of 6 channels
    assert state.h.shape == state.c.shape == (1, 2, 7)
    logits, weights = model.logits(images, targets()[0])
    assert logits.shape == (2, 4, V)
    assert (weights is None) == (attention == "none")
    loss, tokens = model.loss(images, *targets())
    assert loss.dim() == 0
    assert tokens == 7


def test_the_attention_weights_sum_to_one_over_the_regions():
    model = tiny()
    _, weights = model.logits(torch.randn(3, 3, 16, 16), targets(3)[0])
    assert weights.shape == (3, 4, 16)
    torch.testing.assert_close(weights.sum(-1), torch.ones(3, 4))


def test_the_gating_scalar_scales_the_context_as_written():
    torch.manual_seed(1)
    decoder = Decoder(V, 5, 7, attention="bahdanau", memory_size=6, gate=True).eval()
    model = tiny()
    attention = model.attention
    memory, state = model.encode(torch.randn(2, 3, 16, 16))
    tokens = torch.tensor([2, 5])
    logits, _ = decoder.step(tokens, state, memory, attention)
    # β_t = σ(w_β h_{t-1} + b_β); z_t = β_t Σ_r α_tr a_r; the LSTM reads [E y_{t-1}; z_t]
    h_prev = state.h[-1]
    scores = attention.v(torch.tanh(attention.query_layer(h_prev).unsqueeze(1) + memory.keys))
    alpha = scores.squeeze(-1).softmax(-1)  # (B, R)
    beta = torch.sigmoid(h_prev @ decoder.gate.weight.T + decoder.gate.bias)  # (B, 1)
    z = beta * (alpha.unsqueeze(-1) * memory.states).sum(1)
    x = torch.cat([decoder.embed(tokens), z], -1)
    out, _ = decoder.lstm.step(x, (state.h, state.c))
    expected = decoder.output(torch.tanh(decoder.combine(torch.cat([out, z], -1))))
    torch.testing.assert_close(logits, expected)


def test_a_gate_needs_bahdanau_attention():
    with pytest.raises(ValueError, match="gate: needs attention='bahdanau', got attention='luong'"):
        Decoder(V, 5, 7, attention="luong", memory_size=6, gate=True)
    with pytest.raises(UserError, match="gate: needs attention='bahdanau'"):
        CaptionConfig(vocab_size=V, attention="none")


def test_the_penalty_is_the_doubly_stochastic_formula():
    model = tiny(penalty=0.5)
    images, (tgt_in, tgt_out) = torch.randn(2, 3, 16, 16), targets()
    logits, alpha = model.logits(images, tgt_in)
    # λ Σ_r (1 - Σ_t α_tr)² per image, over the caption's own steps, averaged over images
    per_image = []
    for b, steps in enumerate((tgt_out != 0).sum(1).tolist()):
        per_image.append(((1 - alpha[b, :steps].sum(0)) ** 2).sum())
    ce = torch.nn.functional.cross_entropy(
        logits.reshape(-1, V), tgt_out.reshape(-1), ignore_index=0
    )
    loss, _ = model.loss(images, tgt_in, tgt_out)
    torch.testing.assert_close(loss, ce + 0.5 * torch.stack(per_image).mean())
    no_penalty, _ = tiny(penalty=0.0).loss(images, tgt_in, tgt_out)
    torch.testing.assert_close(no_penalty, ce)


@pytest.mark.parametrize("attention", ["bahdanau", "none"])
def test_greedy_and_beam_search_decode_it(attention):
    model = tiny(attention=attention, gate=attention == "bahdanau")
    images, lengths = torch.randn(2, 3, 16, 16), torch.ones(2, dtype=torch.long)
    found = greedy(model, images, lengths, max_len=6)
    assert len(found) == 2
    assert all(len(h.tokens) <= 6 for h in found)
    assert (found[0].attention is None) == (attention == "none")
    beams = beam_search(model, images, lengths, beam_size=3, max_len=6, max_len_ratio=None)
    assert len(beams) == 2
    assert beams[0][0].score >= found[0].score - 1e-4


def test_a_pretrained_encoder_loads_and_a_wrong_one_is_refused():
    model = tiny()
    torch.manual_seed(5)
    pretrained = ConvEncoder((4, 6)).state_dict()
    load_encoder_state(model.encoder, pretrained)
    torch.testing.assert_close(model.encoder.state_dict(), pretrained)
    wrong = ConvEncoder((4, 8)).state_dict()
    with pytest.raises(UserError, match=r"blocks.4.weight: expected shape \(6, 4, 3, 3\), got"):
        load_encoder_state(model.encoder, wrong)
    with pytest.raises(UserError, match=r"1 missing \(first: blocks.0.weight\) and 1 unknown"):
        load_encoder_state(
            model.encoder, {("conv" if k == "blocks.0.weight" else k): v for k, v in wrong.items()}
        )


def test_a_frozen_encoder_is_unchanged_by_a_training_step():
    model = tiny(freeze_encoder=True).train()
    before = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    decoder_before = model.decoder.output.weight.clone()
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.5)
    loss, _ = model.loss(torch.randn(2, 3, 16, 16), *targets())
    loss.backward()
    optimizer.step()
    for name, tensor in model.encoder.state_dict().items():  # running statistics included
        torch.testing.assert_close(tensor, before[name], msg=name)
    assert not torch.equal(model.decoder.output.weight, decoder_before)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"vocab_size": 3}, "vocab_size: expected an integer >= 5, got 3"),
        ({"channels": ()}, "channels: expected 1 to 8 channel counts, got ()"),
        ({"channels": (4, 0)}, "channels: expected an integer >= 1, got 0"),
        ({"penalty": -1}, r"penalty: expected a value >= 0, got -1"),
        ({"dropout": 1.0}, r"dropout: expected a value in \[0, 1\), got 1.0"),
        ({"freeze_encoder": "yes"}, "freeze_encoder: expected true or false, got 'yes'"),
        ({"eos_id": 2}, "pad_id, bos_id, eos_id: expected different ids"),
    ],
)
def test_bad_settings_are_named(settings, message):
    with pytest.raises(UserError, match=message):
        CaptionConfig(**{"vocab_size": V, **settings})


def test_images_of_the_wrong_shape_are_named():
    with pytest.raises(ValueError, match=r"images: expected \(B, 3, H, W\), got \(2, 1, 16, 16\)"):
        tiny().encode(torch.zeros(2, 1, 16, 16))
