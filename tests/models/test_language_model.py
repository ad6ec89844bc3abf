"""The LSTM language model: shapes, weight tying, state carrying, the AWD-LSTM regularisers."""

import pytest
import torch

from lstmkit.errors import UserError
from lstmkit.models import LMConfig, LSTMLanguageModel


def small(**kw):
    cfg = {"vocab_size": 30, "embedding_size": 8, "hidden_size": 12, "num_layers": 2} | kw
    return LSTMLanguageModel(LMConfig(**cfg))


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_logits_shape_and_state_per_layer(cell):
    model = small(cell=cell)
    logits, state = model(torch.randint(0, 30, (3, 7)))
    assert logits.shape == (3, 7, 30)
    assert len(state) == 2


def test_tied_weights_share_the_embedding_matrix():
    model = small(tie_weights=True)
    assert model.output.weight is model.embed.weight
    # The last layer narrows to the embedding size so the shapes agree.
    assert model.layers[-1].hidden_size == 8


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_carried_state_equals_one_long_pass_in_eval(cell):
    model = small(cell=cell).eval()
    ids = torch.randint(0, 30, (2, 12))
    whole, _ = model(ids)
    first, state = model(ids[:, :5])
    second, _ = model(ids[:, 5:], LSTMLanguageModel.detach_state(state))
    assert torch.allclose(torch.cat([first, second], 1), whole, atol=1e-6)


def test_locked_dropout_uses_one_mask_for_all_steps():
    from lstmkit.models.language_model import locked_dropout

    x = torch.ones(4, 9, 6)
    y = locked_dropout(x, 0.5, training=True)
    assert torch.equal(y, y[:, :1].expand_as(y))  # the same mask at every step
    assert set(y.unique().tolist()) <= {0.0, 2.0}
    assert torch.equal(locked_dropout(x, 0.5, training=False), x)


def test_embedding_dropout_drops_whole_word_types():
    from lstmkit.models.language_model import embedding_dropout

    torch.manual_seed(0)
    embed = torch.nn.Embedding(10, 5)
    ids = torch.tensor([[3, 3, 3, 4, 4, 4]])
    out = embedding_dropout(embed, ids, 0.5, training=True)
    for word in (3, 4):
        rows = out[0][ids[0] == word]
        assert torch.equal(rows, rows[:1].expand_as(rows))  # a type is kept or dropped everywhere
        assert torch.equal(rows[0], torch.zeros(5)) or torch.allclose(
            rows[0], 2 * embed.weight[word]
        )


def test_training_step_reduces_loss_on_a_repeating_sequence():
    torch.manual_seed(0)
    model = small(dropout=0.0, layer_dropout=0.0, weight_drop=0.0)
    ids = torch.arange(10).repeat(4, 3)  # (4, 30): 0..9 repeated
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    losses = []
    for _ in range(150):
        logits, _ = model(ids[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 30), ids[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 < losses[0]


def test_weight_drop_defaults_to_the_lstms_and_is_off_for_the_other_cells():
    assert LMConfig(vocab_size=30).weight_drop == 0.3
    assert LMConfig(vocab_size=30, cell="gru").weight_drop == 0.0
    assert LMConfig(vocab_size=30, cell="rnn").weight_drop == 0.0
    assert LMConfig(vocab_size=30, weight_drop=0.0).weight_drop == 0.0
    with pytest.raises(UserError, match="weight_drop: only the LSTM cell has it"):
        LMConfig(vocab_size=30, cell="gru", weight_drop=0.3)


def test_weight_drop_reaches_the_lstm_layers():
    model = small(weight_drop=0.5)
    assert all(layer.weight_drop == 0.5 for layer in model.layers)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"vocab_size": 1}, "vocab_size"),
        ({"cell": "transformer"}, "cell"),
        ({"dropout": 1.0}, "dropout"),
        ({"hidden_size": 0}, "hidden_size"),
        ({"cell": "gru", "weight_drop": 0.3}, "weight_drop"),
    ],
)
def test_bad_config_names_the_option(kw, match):
    cfg = {"vocab_size": 30} | kw
    with pytest.raises(UserError, match=match):
        LMConfig(**cfg)
