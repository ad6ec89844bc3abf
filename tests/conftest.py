"""Shared pytest configuration for the lstmkit test suite."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _seed_and_threads():
    # Every test starts from the same RNG state so random weights and inputs are reproducible
    # whatever order the tests run in; two threads keep timings stable on small CI runners.
    threads = torch.get_num_threads()
    torch.set_num_threads(min(threads, 2))
    torch.manual_seed(0)
    yield
    torch.set_num_threads(threads)
