"""Fixtures the captioner's tests share: one torch thread and a small built-in scenes corpus."""

import pytest
import torch

from lstmkit.data.caption_builtin import builtin_caption


@pytest.fixture(autouse=True)
def one_thread():
    # Two threads on a busy 2-core machine made a step 15x slower than one (measured).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    """48 training, 8 validation and 8 test scenes, generated into the module's own cache."""
    return builtin_caption("scenes", size=(48, 8, 8), cache=tmp_path_factory.mktemp("cache"))
