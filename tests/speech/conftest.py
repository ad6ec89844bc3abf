"""A tone language for speech tests: each letter is a pure tone, so a tiny model can learn to
"hear" it in seconds, without espeak-ng."""

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile

RATE = 16000
TONES = {"a": 440.0, "b": 880.0, "c": 1320.0, "d": 1980.0}  # Hz, far apart on the mel scale


def speak(text: str, rng: np.random.Generator, rate: int = RATE) -> np.ndarray:
    """A letter is 90-150 ms of its tone, a space 60 ms of silence, with a little noise."""
    pieces = [np.zeros(int(0.05 * rate))]
    for char in text:
        if char == " ":
            pieces.append(np.zeros(int(0.06 * rate)))
            continue
        n = int(rng.uniform(0.09, 0.15) * rate)
        t = np.arange(n) / rate
        pieces.append(0.5 * np.sin(2 * np.pi * TONES[char] * t) * np.hanning(n))
        pieces.append(np.zeros(int(0.02 * rate)))
    pieces.append(np.zeros(int(0.05 * rate)))
    audio = np.concatenate(pieces)
    return (audio + rng.normal(0, 0.003, audio.shape)).astype(np.float32)


def write_corpus(folder: Path, n: int, seed: int = 0, name: str = "train.tsv") -> Path:
    """``n`` utterances of 1-2 words of 1-3 letters, as WAVs and a ``path<TAB>text`` manifest."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for k in range(n):
        words = [
            "".join(rng.choice(list(TONES), size=rng.integers(1, 4)))
            for _ in range(rng.integers(1, 3))
        ]
        text = " ".join(words)
        path = folder / f"{Path(name).stem}-{k:03d}.wav"
        soundfile.write(path, speak(text, rng), RATE)
        lines.append(f"{path.name}\t{text}\n")
    manifest = folder / name
    manifest.write_text("".join(lines))
    return manifest


@pytest.fixture(scope="session")
def tone_corpus(tmp_path_factory) -> dict[str, Path]:
    """Train (48), valid (12) and test (12) manifests of the tone language."""
    folder = tmp_path_factory.mktemp("tones")
    return {
        "train": write_corpus(folder, 48, seed=0, name="train.tsv"),
        "valid": write_corpus(folder, 12, seed=1, name="valid.tsv"),
        "test": write_corpus(folder, 12, seed=2, name="test.tsv"),
    }


@pytest.fixture(scope="session")
def tones():
    """The tone language's writers (``write_corpus``, ``speak``, ``RATE``, ``TONES``), for tests
    that make corpora of their own (importing ``conftest`` by name is ambiguous in a run of the
    whole suite)."""
    return SimpleNamespace(write_corpus=write_corpus, speak=speak, RATE=RATE, TONES=TONES)


@pytest.fixture(scope="module", autouse=True)
def _feature_cache(tmp_path_factory):
    """Features are cached in a temporary folder per test module, never the user's cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LSTMKIT_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield
