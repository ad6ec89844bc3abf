"""The generators against Hochreiter & Schmidhuber (1997)'s definitions, written out here."""

import pytest
import torch

from lstmkit.experiments.problems import (
    IGNORE,
    Adding,
    Copy,
    TemporalOrder,
    copy_count,
    make_problem,
)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("T", [10, 37, 64])
def test_adding_follows_the_paper(T):
    x, y = Adding(T).sample(300, gen())
    assert x.shape == (300, T, 2)
    assert y.shape == (300,)
    values, markers = x[..., 0], x[..., 1]
    assert values.min() >= -1
    assert values.max() <= 1
    for b in range(300):
        marked = (markers[b] == 1).nonzero().flatten().tolist()
        assert len(marked) == 2  # exactly two pairs marked
        # one (X1) among the first ten pairs, the other (X2) among the first T/2 - 1 pairs
        # that X1 left unmarked
        assert any(
            p1 < 10 and p2 in [t for t in range(T) if t != p1][: T // 2 - 1]
            for p1, p2 in (marked, marked[::-1])
        )
        others = [t for t in range(T) if t not in marked]
        for t in others:  # -1 at the first and last pair unless marked, else 0
            assert markers[b, t] == (-1.0 if t in (0, T - 1) else 0.0)
        if 0 in marked:
            assert values[b, 0] == 0  # "if the first pair gets marked, X1 is zero"
        x1, x2 = values[b, marked[0]].item(), values[b, marked[1]].item()
        assert y[b].item() == pytest.approx(0.5 + (x1 + x2) / 4.0, abs=1e-6)


def test_adding_second_marker_covers_its_range_uniformly():
    T = 20
    x, _ = Adding(T).sample(20000, gen(1))
    marked = (x[..., 1] == 1).float()
    # every position 0..T/2-1 can hold a marker, none after
    assert (marked[:, : T // 2].sum(0) > 0).all()
    assert marked[:, T // 2 :].sum() == 0


def test_adding_solved_means_error_below_0_04():
    problem = Adding(10)
    targets = torch.tensor([0.5, 0.5, 0.5, 0.5])
    outputs = torch.zeros(4, 10, 1)
    outputs[:, -1, 0] = torch.tensor([0.5, 0.539, 0.541, 0.3])
    outputs[:, :-1, 0] = 9.0  # only the last step counts
    s = problem.score(outputs, targets)
    assert (s.solved, s.count) == (2, 4)
    assert s.error == pytest.approx(0 + 0.039 + 0.041 + 0.2, abs=1e-5)
    assert s.loss == pytest.approx(0.039**2 + 0.041**2 + 0.2**2, abs=1e-6)


@pytest.mark.parametrize("T", [10, 100, 150])
def test_temporal_order_follows_the_paper(T):
    problem = TemporalOrder(T)
    x, y = problem.sample(200, gen(2))
    assert x.shape == (200, T, 8)
    assert y.shape == (200,)
    assert (x.sum(-1) == 1).all()  # one-hot
    symbols = x.argmax(-1)  # E B a b c d X Y = 0..7
    for b in range(200):
        s = symbols[b].tolist()
        assert s[0] == 0
        assert s[-1] == 1
        relevant = [t for t in range(T) if s[t] in (6, 7)]
        assert len(relevant) == 2
        t1, t2 = relevant
        assert T // 10 <= t1 <= T // 5
        assert T // 2 <= t2 <= T // 2 + T // 10
        if T == 100:  # the paper's own ranges, 1-based [10, 20] and [50, 60], shifted by one
            assert 10 <= t1 <= 20
            assert 50 <= t2 <= 60
        assert all(2 <= s[t] <= 5 for t in range(1, T - 1) if t not in relevant)
        classes = {("X", "X"): 0, ("X", "Y"): 1, ("Y", "X"): 2, ("Y", "Y"): 3}  # Q R S U
        name = {6: "X", 7: "Y"}
        assert y[b] == classes[(name[s[t1]], name[s[t2]])]
    assert set(y.tolist()) == {0, 1, 2, 3}


def test_temporal_order_is_scored_at_the_last_step():
    problem = TemporalOrder(10)
    outputs = torch.zeros(2, 10, 4)
    outputs[0, -1, 2] = 5.0  # right
    outputs[1, -1, 0] = 5.0  # wrong
    outputs[1, 3, 1] = 50.0  # not the last step: ignored
    s = problem.score(outputs, torch.tensor([2, 1]))
    assert (s.solved, s.count, s.error) == (1, 2, 1.0)


@pytest.mark.parametrize("T", [10, 40, 120])
def test_copy_layout(T):
    x, y = Copy(T).sample(50, gen(3))
    N = copy_count(T)
    assert min(10, (T - 1) // 3) == N
    assert T - 2 * N - 1 >= N
    symbols = x.argmax(-1)
    assert (x.sum(-1) == 1).all()
    assert ((symbols[:, :N] >= 1) & (symbols[:, :N] <= 8)).all()  # the data
    assert (symbols[:, N : T - N - 1] == 0).all()  # the blank gap
    assert (symbols[:, T - N - 1] == 9).all()  # the delimiter
    assert (symbols[:, T - N :] == 0).all()  # blanks while recalling
    assert (y[:, T - N :] == symbols[:, :N]).all()  # recall the data in order
    assert (y[:, : T - N] == IGNORE).all()


def test_copy_scores_symbols_and_sequences():
    problem = Copy(10)  # N = 3
    y = torch.full((2, 10), IGNORE)
    y[:, -3:] = torch.tensor([[1, 2, 3], [4, 5, 6]])
    outputs = torch.zeros(2, 10, 10)
    for b, row in enumerate([[1, 2, 3], [4, 5, 7]]):
        for k, sym in enumerate(row):
            outputs[b, 7 + k, sym] = 9.0
    s = problem.score(outputs, y)
    assert s.solved == 1
    assert s.error == pytest.approx(1 / 3)


@pytest.mark.parametrize("name", ["adding", "temporal-order", "copy"])
def test_seeded_generation_is_reproducible(name):
    problem = make_problem(name, 30)
    a, b, c = (problem.sample(8, gen(s)) for s in (5, 5, 6))
    assert torch.equal(a[0], b[0])
    assert torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])


def test_bad_names_and_lengths():
    with pytest.raises(ValueError, match="problem: expected one of adding, temporal-order, copy"):
        make_problem("parity", 20)
    with pytest.raises(ValueError, match="length: expected an integer >= 10, got 9"):
        make_problem("adding", 9)
