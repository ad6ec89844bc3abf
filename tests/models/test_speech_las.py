"""Listen, Attend and Spell against independent references: torch.nn.LSTM over pairs of frames
built by hand, the joint loss written out with torch.nn.functional, and lstmkit.decode's searches
on a tiny model that learns four utterances."""

import math

import pytest
import torch
import torch.nn.functional as F

from lstmkit.decode import beam_search, greedy
from lstmkit.errors import UserError
from lstmkit.models.speech_las import LASConfig, build_las

PAD, UNK, BOS, EOS = 0, 1, 2, 3


def tiny(**overrides):
    config = {
        "vocab_size": 8,
        "n_mels": 3,
        "stack": 2,
        "hidden_size": 5,
        "num_layers": 3,
        "embedding_size": 4,
        "speller_hidden_size": 6,
        "dropout": 0.0,
    }
    return build_las(LASConfig(**{**config, **overrides}))


def padded(utterances):
    lengths = torch.tensor([len(u) for u in utterances])
    batch = torch.full((len(utterances), int(lengths.max()), utterances[0].shape[1]), 7.0)
    for b, u in enumerate(utterances):
        batch[b, : len(u)] = u  # 7.0 past each length: garbage that must not matter
    return batch, lengths


def targets(sequences):
    """tgt_in (bos y), tgt_out (y eos), CTC targets y and their lengths, padded with PAD."""
    U = max(len(y) for y in sequences) + 1
    tgt_in, tgt_out = torch.full((len(sequences), U), PAD), torch.full((len(sequences), U), PAD)
    for b, y in enumerate(sequences):
        tgt_in[b, : len(y) + 1] = torch.tensor([BOS, *y])
        tgt_out[b, : len(y) + 1] = torch.tensor([*y, EOS])
    ctc_lengths = torch.tensor([len(y) for y in sequences])
    return tgt_in, tgt_out, tgt_out.masked_fill(tgt_out == EOS, PAD), ctc_lengths


@pytest.mark.parametrize("T", [1, 7, 8, 9, 17])
def test_each_pyramid_layer_halves_time_rounding_up(T):
    model = tiny().eval()
    states, lengths, (h, c) = model.listen(torch.randn(1, T, 3), torch.tensor([T]))
    expected = math.ceil(T / 2)  # frame stacking by 2
    for _ in range(2):  # two pyramid layers
        expected = math.ceil(expected / 2)
    assert lengths.tolist() == [expected]
    assert states.shape == (1, expected, 10)
    assert h.shape == c.shape == (2, 1, 5)


def test_listener_is_torch_lstms_over_concatenated_pairs():
    model = tiny(num_layers=2).eval()
    lstms = []
    for layer in model.listener.layers:
        reference = torch.nn.LSTM(layer.input_size, 5, batch_first=True, bidirectional=True)
        reference.load_state_dict(
            {k: v for k, v in layer.state_dict().items() if k in reference.state_dict()}
        )
        lstms.append(reference)
    x = torch.randn(1, 10, 3)
    first, _ = lstms[0](x.reshape(1, 5, 6))  # frames (0,1) (2,3) ... (8,9)
    pairs = torch.cat([first, torch.zeros(1, 1, 10)], 1).reshape(1, 3, 20)  # odd: a zero frame
    expected, (h, _) = lstms[1](pairs)
    got, lengths, (got_h, _) = model.listen(x, torch.tensor([10]))
    assert lengths.tolist() == [3]
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(got_h, h, rtol=1e-5, atol=1e-6)


def test_an_utterance_padded_in_a_batch_gives_what_it_gives_alone():
    model = tiny(ctc_weight=0.5).eval()
    short, long = torch.randn(9, 3), torch.randn(21, 3)
    batch, lengths = padded([short, long])
    tgt_in = torch.tensor([[BOS, 4, 5], [BOS, 6, 7]])
    with torch.no_grad():
        together, weights = model.logits(batch, lengths, tgt_in)
        alone, alone_weights = model.logits(short[None], torch.tensor([9]), tgt_in[:1])
        ctc_together, ctc_lengths = model.ctc_log_probs(batch, lengths)
        ctc_alone, _ = model.ctc_log_probs(short[None], torch.tensor([9]))
    assert ctc_lengths.tolist() == [2, 3]  # ceil(9/8), ceil(21/8)
    torch.testing.assert_close(together[0], alone[0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(weights[0, :, :2], alone_weights[0], rtol=1e-5, atol=1e-6)
    assert torch.all(weights[0, :, 2:] == 0)  # no attention on the padding frame
    torch.testing.assert_close(ctc_together[0, :2], ctc_alone[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("attention", ["luong", "bahdanau"])
def test_loss_is_the_weighted_sum_of_ctc_and_cross_entropy(attention):
    weight = 0.3
    model = tiny(attention=attention, input_feeding=False, ctc_weight=weight, suppress_ids=(UNK,))
    features, lengths = padded([torch.randn(16, 3), torch.randn(11, 3)])
    tgt_in, tgt_out, ctc_targets, ctc_lengths = targets([[4, 5], [6]])
    loss, n_tokens = model.loss(features, lengths, tgt_in, tgt_out, ctc_targets, ctc_lengths)

    # CE: the speller stepped one token at a time from encode(), the gold token fed each step.
    memory, state = model.encode(features, lengths)
    step_logits = []
    for t in range(tgt_in.shape[1]):
        logits, state = model.speller.step(tgt_in[:, t], state, memory, model.attention)
        step_logits.append(logits)
    logp = torch.stack(step_logits, 1).log_softmax(-1)  # (B, U, V)
    real = tgt_out != PAD
    ce = -logp.gather(2, tgt_out.unsqueeze(2)).squeeze(2)[real].sum() / real.sum()
    # CTC: the head over the listener's frames, unk, bos and eos lowered by 1e4, blank = pad.
    states, frames, _ = model.listen(features, lengths)
    lowered = torch.zeros(8)
    lowered[[UNK, BOS, EOS]] = -1e4
    ctc_logp = (model.ctc_output(states) + lowered).log_softmax(-1)
    ctc = (
        F.ctc_loss(
            ctc_logp.transpose(0, 1), ctc_targets, frames, ctc_lengths, blank=PAD, reduction="sum"
        )
        / ctc_lengths.sum()
    )
    assert n_tokens == 5
    torch.testing.assert_close(loss, weight * ctc + (1 - weight) * ce, rtol=1e-5, atol=1e-6)


def test_without_ctc_the_loss_is_the_cross_entropy_and_there_is_no_ctc_head():
    model = tiny()
    features, lengths = padded([torch.randn(12, 3)])
    tgt_in, tgt_out, *_ = targets([[4, 4, 5]])
    loss, _ = model.loss(features, lengths, tgt_in, tgt_out)
    logits, _ = model.logits(features, lengths, tgt_in)
    torch.testing.assert_close(loss, F.cross_entropy(logits[0], tgt_out[0]))
    assert model.ctc_output is None
    with pytest.raises(ValueError, match="ctc_log_probs: this network has no CTC head"):
        model.ctc_log_probs(features, lengths)


def test_gradients_reach_every_parameter():
    model = tiny(ctc_weight=0.5, speller_num_layers=2)
    features, lengths = padded([torch.randn(16, 3), torch.randn(9, 3)])
    loss, _ = model.loss(features, lengths, *targets([[4, 5, 6], [7]]))
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.any()]
    assert not missing


def test_decode_step_never_proposes_a_suppressed_id():
    model = tiny(suppress_ids=(UNK,)).eval()
    memory, state = model.encode(torch.randn(2, 9, 3), torch.tensor([9, 4]))
    logits, _ = model.decode_step(torch.tensor([BOS, BOS]), state, memory)
    assert torch.all(logits[:, UNK] == -torch.inf)
    assert logits[:, [4, 5, 6, 7, EOS]].isfinite().all()


SEQUENCES = [[4, 5], [6, 6, 7], [5], [7, 4, 6]]


@pytest.fixture(scope="module")
def learned():
    """A tiny LAS (4 feature frames a listener frame) fitted to four random utterances of 9 to 15
    frames, with the joint loss."""
    torch.manual_seed(0)
    model = tiny(
        hidden_size=16,
        num_layers=2,
        embedding_size=8,
        speller_hidden_size=16,
        ctc_weight=0.2,
    )
    features, lengths = padded([torch.randn(n, 3) for n in (9, 15, 10, 13)])
    batch = targets(SEQUENCES)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.03)
    for _ in range(60):  # about 20 suffice
        optimizer.zero_grad()
        loss, _ = model.loss(features, lengths, *batch)
        loss.backward()
        optimizer.step()
    return model, features, lengths


def test_a_tiny_model_learns_to_spell_four_utterances_greedily(learned):
    model, features, lengths = learned
    out = greedy(model, features, lengths, max_len=6)
    assert [h.tokens for h in out] == SEQUENCES
    assert all(h.score > math.log(0.5) for h in out)


def test_beam_search_runs_on_las_where_listener_and_feature_frames_coincide():
    model = tiny(stack=1, num_layers=1)  # no time reduction: S == T
    features, lengths = padded([torch.randn(5, 3), torch.randn(3, 3)])
    first = beam_search(model, features, lengths, beam_size=1, max_len=4)
    assert [h[0].tokens for h in first] == [h.tokens for h in greedy(model, features, lengths, 4)]
    out = beam_search(model, features, lengths, beam_size=3, n_best=2, max_len=4)
    assert all(len(hyps) == 2 and hyps[0].score >= hyps[1].score for hyps in out)


def test_beam_search_finds_what_the_tiny_model_learned(learned):
    model, features, lengths = learned
    out = beam_search(model, features, lengths, beam_size=3, max_len=6)
    assert [hyps[0].tokens for hyps in out] == SEQUENCES
    memory, _ = model.encode(features, lengths)
    for hyps, n in zip(out, memory.mask.sum(1).tolist(), strict=True):  # listener frames
        assert hyps[0].attention.shape == (len(hyps[0].tokens) + 1, n)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("attention", "none", "attention: expected one of luong, bahdanau, got 'none'"),
        ("ctc_weight", 1.0, r"ctc_weight: expected a value in \[0, 1\), got 1.0"),
        ("num_layers", 0, "num_layers: expected an integer >= 1, got 0"),
        ("blank_id", 2, "pad_id, bos_id, eos_id, blank_id: expected different ids"),
        ("eos_id", 9, "eos_id: expected an id below vocab_size 8, got 9"),
        ("suppress_ids", (3,), "suppress_ids: expected ids below vocab_size 8 other than"),
        ("input_feeding", 1, "input_feeding: expected true or false, got 1"),
    ],
)
def test_config_refuses_bad_values(field, value, message):
    with pytest.raises(UserError, match=message):
        LASConfig(vocab_size=8, **{field: value})


def test_config_refuses_dot_score_of_mismatched_widths_and_round_trips():
    with pytest.raises(UserError, match="luong_score: 'dot' needs speller_hidden_size equal"):
        LASConfig(vocab_size=8, hidden_size=4, speller_hidden_size=6, luong_score="dot")
    config = LASConfig(vocab_size=8, suppress_ids=[1], ctc_weight=0.25)
    assert LASConfig(**config.to_dict()) == config
    assert config.frame_stack == 8
