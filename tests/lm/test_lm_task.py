"""The language-model task's state resets: which streams start a window from an empty memory,
that the draws repeat (and resume) exactly, and that the model then reads zeros for them."""

import numpy as np
import pytest
import torch
from torch import nn

from lstmkit.cli.main import main
from lstmkit.errors import UserError
from lstmkit.lm import LanguageModel
from lstmkit.lm.task import LMTask, reset_state

IDS = torch.arange(4 * 50 + 1) % 7


def task(state_reset, seed=0, batch_size=4, bptt=5):
    return LMTask(IDS, IDS[:30], batch_size, bptt, {"config": {}}, state_reset, seed)


def test_without_resets_no_stream_is_reset():
    assert all(keep is None for _, _, keep in task(0.0).batches(0, 0))


def test_reset_draws_follow_the_seed_epoch_and_window():
    t = task(0.3, seed=5)
    keeps = [keep for _, _, keep in t.batches(2, 0)]
    want = [np.random.default_rng([5, 2, k]).random(4) >= 0.3 for k in range(len(keeps))]
    assert all(
        torch.equal(got, torch.from_numpy(w).float()) for got, w in zip(keeps, want, strict=True)
    )
    resumed = [keep for _, _, keep in t.batches(2, 3)]  # as a run resumed at window 3
    assert len(resumed) == len(keeps) - 3
    assert all(torch.equal(a, b) for a, b in zip(resumed, keeps[3:], strict=True))
    other = [keep for _, _, keep in t.batches(3, 0)]
    assert not all(torch.equal(a, b) for a, b in zip(keeps, other, strict=True))


def test_reset_rate_is_the_probability():
    t = LMTask(torch.arange(64 * 2001) % 7, IDS[:30], 64, 10, {"config": {}}, 0.25, 0)
    zeros = torch.cat([1 - keep for _, _, keep in t.batches(0, 0)])
    assert zeros.mean().item() == pytest.approx(0.25, abs=0.01)  # 12,800 draws


class StateProbe(nn.Module):
    """Records the state it is given; returns zero logits and a state of ones."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(()))
        self.seen = []

    def forward(self, x, state):
        self.seen.append(state)
        B, T = x.shape
        ones = torch.ones(1, B, 3)
        return torch.zeros(B, T, 7) + self.weight, [(ones, 2 * ones), 3 * ones]


def test_the_model_reads_zeros_for_reset_streams_only():
    t, model = task(0.5, seed=1), StateProbe()
    carry = None
    for batch in t.batches(0, 0):
        _, _, carry = t.train_loss(model, batch, carry)
    assert model.seen[0] is None  # the first window starts from zeros anyway
    for state, (_, _, keep) in zip(model.seen[1:], list(t.batches(0, 0))[1:], strict=True):
        (h, c), g = state
        assert torch.equal(h[0, :, 0], keep)
        assert torch.equal(c[0, :, 0], 2 * keep)
        assert torch.equal(g[0, :, 0], 3 * keep)  # a GRU's or RNN's state, one tensor
    assert any((keep == 0).any() for _, _, keep in t.batches(0, 0))


def test_reset_state_keeps_the_structure():
    h, c = torch.ones(2, 3, 4), torch.ones(2, 3, 4)
    (h2, c2), g2 = reset_state([(h, c), h], torch.tensor([1.0, 0.0, 1.0]))
    assert h2.shape == h.shape
    assert torch.equal(h2[:, 1], torch.zeros(2, 4))
    assert torch.equal(c2[:, 0], torch.ones(2, 4))
    assert torch.equal(g2[:, 2], torch.ones(2, 4))


def test_the_estimator_records_and_reloads_it(tmp_path):
    lm = LanguageModel(
        "char",
        model={"embedding_size": 4, "hidden_size": 8, "num_layers": 1},
        batch_size=2,
        bptt=8,
        train={"epochs": 1},
        state_reset=0.2,
    )
    lm.fit("the cat sat on the mat\n" * 20, out=tmp_path / "run", progress=False)
    assert LanguageModel.load(tmp_path / "run").state_reset == 0.2
    with pytest.raises(UserError, match=r"state_reset: expected a probability in \[0, 1\)"):
        LanguageModel(state_reset=1.0).fit("the cat sat\n" * 5, progress=False)


def test_the_command_line_refuses_a_certain_reset(tmp_path, capsys):
    data = tmp_path / "t.txt"
    data.write_text("the cat sat\n" * 30)
    code = main(
        ["lm", "train", "--data", str(data), "--out", str(tmp_path / "r"), "--state-reset", "1"]
    )
    assert code == 2
    assert "--state-reset" in capsys.readouterr().err
