"""Temperature, top-k and top-p sampling: every value check_sampling lets through samples a valid
token (no NaN for tiny temperatures), and every other value is refused naming the argument."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lstmkit.decode.sampling import check_sampling, filter_logits, sample, seeded_generator
from lstmkit.errors import UserError


@pytest.mark.parametrize("temperature", [1e-300, 5e-324, 1e-45, 1e-8])
def test_a_tiny_temperature_picks_the_likeliest_token(temperature):
    torch.manual_seed(0)
    logits = torch.randn(50) * 10
    for seed in range(5):
        gen = torch.Generator().manual_seed(seed)
        assert sample(logits, temperature, generator=gen) == int(logits.argmax())


def test_a_tiny_temperature_on_log_probabilities_picks_the_likeliest_token():
    # log-probabilities are all < 0: divided by 1e-300 alone they all become -inf.
    logp = torch.log_softmax(torch.tensor([0.5, 2.0, 1.0, -3.0]), -1)
    assert sample(logp, 1e-300, top_k=2, top_p=0.5) == 1


@settings(max_examples=200, deadline=None)
@given(
    logits=st.lists(st.floats(-1e4, 1e4), min_size=1, max_size=20),
    temperature=st.floats(min_value=0, max_value=1e6, exclude_min=True),
    top_k=st.none() | st.integers(1, 30),
    top_p=st.none() | st.floats(min_value=0, max_value=1, exclude_min=True),
    seed=st.integers(0, 2**32),
)
def test_every_accepted_setting_samples_a_token_the_filter_keeps(
    logits, temperature, top_k, top_p, seed
):
    check_sampling(temperature, top_k, top_p)
    logits = torch.tensor(logits)
    token = sample(logits, temperature, top_k, top_p, torch.Generator().manual_seed(seed))
    assert 0 <= token < len(logits)
    if top_k is not None:  # one of the top_k largest (ties count as one value)
        assert logits[token] >= logits.sort(descending=True).values[min(top_k, len(logits)) - 1]
    kept = filter_logits((logits.double() - logits.max()) / temperature, top_k, top_p)
    assert math.isfinite(kept[token])


@pytest.mark.parametrize(
    ("temperature", "top_k", "top_p", "message"),
    [
        (0, None, None, "temperature: expected a finite number > 0, got 0"),
        (-1.0, None, None, "temperature: expected a finite number > 0, got -1.0"),
        (math.inf, None, None, "temperature: expected a finite number > 0, got inf"),
        (math.nan, None, None, "temperature: expected a finite number > 0, got nan"),
        (True, None, None, "temperature: expected a finite number > 0, got True"),
        ("0.5", None, None, "temperature: expected a finite number > 0, got '0.5'"),
        (1.0, 0, None, "top_k: expected a positive integer, got 0"),
        (1.0, 2.5, None, "top_k: expected a positive integer, got 2.5"),
        (1.0, True, None, "top_k: expected a positive integer, got True"),
        (1.0, "3", None, "top_k: expected a positive integer, got '3'"),
        (1.0, None, 0.0, "top_p: expected a probability in (0, 1], got 0.0"),
        (1.0, None, 1.5, "top_p: expected a probability in (0, 1], got 1.5"),
        (1.0, None, math.nan, "top_p: expected a probability in (0, 1], got nan"),
        (1.0, None, "1", "top_p: expected a probability in (0, 1], got '1'"),
    ],
)
def test_values_sampling_cannot_use_are_refused_naming_the_argument(
    temperature, top_k, top_p, message
):
    with pytest.raises(UserError) as refused:
        check_sampling(temperature, top_k, top_p)
    assert str(refused.value) == message


def test_numpy_numbers_are_numbers():
    check_sampling(np.float32(0.5), np.int64(3), np.float64(0.9))


def test_seeds_torch_can_use_make_repeatable_generators():
    assert seeded_generator(None) is None
    for seed in [0, -(2**63), 2**64 - 1, np.int64(7)]:
        a, b = seeded_generator(seed), seeded_generator(seed)
        assert torch.equal(torch.rand(3, generator=a), torch.rand(3, generator=b))


@pytest.mark.parametrize("seed", [2**64, -(2**63) - 1, 1.5, "3", True])
def test_other_seeds_are_refused_naming_the_argument(seed):
    with pytest.raises(UserError) as refused:
        seeded_generator(seed)
    assert str(refused.value) == f"seed: expected an integer from -2**63 to 2**64 - 1, got {seed!r}"
