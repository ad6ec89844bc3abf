"""The CTC recogniser's network against independent references: torch.nn.LSTM with the same
weights, and the CTC loss by enumerating every alignment."""

import itertools
import math

import pytest
import torch

from lstmkit.errors import UserError
from lstmkit.models.speech import (
    CTCRecognizer,
    SpeechConfig,
    frames_needed,
    stack_frames,
)


def tiny(**overrides):
    config = {"vocab_size": 4, "n_mels": 3, "stack": 3, "hidden_size": 5, "num_layers": 2}
    config["dropout"] = 0.0
    return CTCRecognizer(SpeechConfig(**{**config, **overrides})).eval()


def test_stack_frames_concatenates_neighbours_and_pads_the_last_group():
    x = torch.randn(2, 7, 3)
    stacked, lengths = stack_frames(x, torch.tensor([7, 4]), 3)
    assert stacked.shape == (2, 3, 9)
    assert lengths.tolist() == [3, 2]  # ceil(7/3), ceil(4/3)
    assert torch.equal(stacked[0, 1], torch.cat([x[0, 3], x[0, 4], x[0, 5]]))
    assert torch.equal(stacked[0, 2], torch.cat([x[0, 6], torch.zeros(6)]))


def test_log_probs_match_torch_lstm_on_stacked_frames():
    torch.manual_seed(0)
    model = tiny(stack=2)
    reference = torch.nn.LSTM(6, 5, 2, batch_first=True, bidirectional=True)
    reference.load_state_dict(
        {k: v for k, v in model.lstm.state_dict().items() if k in reference.state_dict()}
    )
    x = torch.randn(1, 8, 3)
    stacked = x.reshape(1, 4, 6)  # frames (0,1), (2,3), ...
    expected = model.output(reference(stacked)[0]).log_softmax(-1)
    got, lengths = model.log_probs(x, torch.tensor([8]))
    assert lengths.tolist() == [4]
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(got.exp().sum(-1), torch.ones(1, 4))


def test_an_utterance_padded_in_a_batch_gives_what_it_gives_alone():
    torch.manual_seed(1)
    model = tiny()
    short, long = torch.randn(1, 5, 3), torch.randn(1, 9, 3)
    batch = torch.zeros(2, 9, 3)
    batch[0, :5], batch[1] = short[0], long[0]
    batch[0, 5:] = 7.0  # garbage past the length must not matter
    together, lengths = model.log_probs(batch, torch.tensor([5, 9]))
    alone, _ = model.log_probs(short, torch.tensor([5]))
    assert lengths.tolist() == [2, 3]
    torch.testing.assert_close(together[0, :2], alone[0], rtol=1e-5, atol=1e-6)


def brute_force_ctc(log_probs, target, blank=0):
    """-log p(target) summed over every alignment of T' frames that collapses to it."""
    T, V = log_probs.shape
    total = -math.inf
    for path in itertools.product(range(V), repeat=T):
        collapsed = [k for k, _ in itertools.groupby(path) if k != blank]
        if collapsed == target:
            score = sum(float(log_probs[t, k]) for t, k in enumerate(path))
            total = float(torch.logaddexp(torch.tensor(total), torch.tensor(score)))
    return -total


def test_loss_is_the_negative_log_probability_over_all_alignments():
    torch.manual_seed(2)
    model = tiny(num_layers=1)
    x = torch.randn(1, 12, 3)  # 4 output frames after stacking by 3
    target = [1, 1, 2]  # the repeated 1 needs a blank between: 4 frames
    loss, tokens = model.loss(x, torch.tensor([12]), torch.tensor([target]), torch.tensor([3]))
    log_probs, _ = model.log_probs(x, torch.tensor([12]))
    assert tokens == 3
    expected = brute_force_ctc(log_probs[0].detach(), target) / 3
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_frames_needed_counts_a_blank_between_repeats():
    assert frames_needed([1, 1, 1]) == 5
    assert frames_needed([1, 2, 1]) == 3
    assert frames_needed([]) == 0


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("stack", 0, "stack: expected an integer >= 1, got 0"),
        ("blank_id", 4, "blank_id: expected an id below vocab_size 4, got 4"),
        ("dropout", 1.0, r"dropout: expected a probability in \[0, 1\), got 1.0"),
    ],
)
def test_config_refuses_bad_values(field, value, message):
    with pytest.raises(UserError, match=message):
        SpeechConfig(vocab_size=4, **{field: value})


# ---------------------------------------------------------------- streaming


def reference_unidirectional(model, x):
    """torch.nn.LSTM with the model's weights over x (1, T, F) stacked, the last stack
    completed with zero frames, then the output layer."""
    c = model.config
    reference = torch.nn.LSTM(c.n_mels * c.stack, c.hidden_size, c.num_layers, batch_first=True)
    reference.load_state_dict(model.lstm.state_dict(), strict=False)
    pad = (-x.shape[1]) % c.stack
    frames = torch.cat([x, torch.zeros(1, pad, c.n_mels)], 1)
    stacked = frames.reshape(1, frames.shape[1] // c.stack, c.stack * c.n_mels)
    return model.output(reference(stacked)[0]).log_softmax(-1)


@pytest.mark.parametrize("cuts", [[0, 0, 1, 2, 3, 4, 11], [5, 11], [11], [1, 1, 1, 3, 7, 10, 11]])
def test_a_stream_in_chunks_gives_the_log_probs_of_the_whole(cuts):
    torch.manual_seed(3)
    model = tiny(stack=3, bidirectional=False)
    x = torch.randn(1, 11, 3)
    state, pieces, start = model.start_stream(), [], 0
    for end in cuts:
        out, state = model.stream_log_probs(x[:, start:end], state)
        pieces.append(out)
        assert state.frames.shape == (1, end % 3, 3)  # the incomplete stack
        assert torch.equal(state.frames, x[:, end - end % 3 : end])
        assert state.h.shape == state.c.shape == (2, 1, 5)
        start = end
    out, state = model.stream_log_probs(x[:, :0], state, final=True)
    pieces.append(out)
    got = torch.cat(pieces, 1)
    assert got.shape == (1, 4, 4)  # ceil(11 / 3) output frames
    assert state.frames.shape == (1, 0, 3)
    with torch.no_grad():
        expected = reference_unidirectional(model, x)
        whole, _ = model.log_probs(x, torch.tensor([11]))
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(got, whole, rtol=1e-5, atol=1e-6)


def test_a_stream_of_a_batch_carries_each_rows_state():
    model = tiny(stack=2, bidirectional=False)
    x = torch.randn(2, 6, 3)
    a, state = model.stream_log_probs(x[:, :3], model.start_stream(2))
    b, _ = model.stream_log_probs(x[:, 3:], state, final=True)
    with torch.no_grad():
        for row in range(2):
            torch.testing.assert_close(
                torch.cat([a, b], 1)[row : row + 1],
                reference_unidirectional(model, x[row : row + 1]),
                rtol=1e-5,
                atol=1e-6,
            )


def test_a_bidirectional_model_cannot_stream():
    with pytest.raises(UserError, match=r"^bidirectional: expected a unidirectional model to"):
        tiny().start_stream()


def test_stream_features_must_continue_the_state():
    model = tiny(bidirectional=False)
    with pytest.raises(ValueError, match=r"^features: expected \(1, T, 3\), got \(1, 4, 2\)$"):
        model.stream_log_probs(torch.zeros(1, 4, 2), model.start_stream())
