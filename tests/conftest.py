"""Shared pytest configuration for the lstmkit test suite."""

import hashlib
import json

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


@pytest.fixture
def write_config():
    """Replaces a checkpoint's config.json and its checksum in manifest.json, as a damaged or
    crafted (or older) checkpoint would have it."""

    def write(checkpoint, config: dict) -> None:
        data = json.dumps(config).encode()
        (checkpoint / "config.json").write_bytes(data)
        manifest = json.loads((checkpoint / "manifest.json").read_text())
        manifest["files"]["config.json"] = {
            "sha256": hashlib.sha256(data).hexdigest(),
            "bytes": len(data),
        }
        (checkpoint / "manifest.json").write_text(json.dumps(manifest))

    return write
