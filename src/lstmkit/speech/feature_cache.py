"""Features of audio files computed once and kept on disk: the feature cache.

Training reads the same files every epoch, and a later run often the same corpus; their
normalised log-mel features (:mod:`lstmkit.speech.features`) are computed once per file and kept
as float16 ``.npy`` entries, keyed by the file's bytes and the settings, so that an edited file
or other settings never meet a stale entry. The cache lives apart from the features because it
is about files, hashes and crash-safe writes, not signal processing.

Legend: T frames, F features (``n_mels``).

Example:
    >>> import tempfile, soundfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     soundfile.write(Path(folder) / "a.wav", np.sin(np.arange(1600) / 3), 16000)
    ...     compute_features([Path(folder) / "a.wav"], FeatureConfig(), cache_dir=False)[0].shape
    torch.Size([8, 80])
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import Tensor
from tqdm import tqdm

from lstmkit.data.audio import check_audible, check_duration, read_audio
from lstmkit.data.cache import cache_dir as cache_folder
from lstmkit.errors import Notice
from lstmkit.speech.features import FEATURES_VERSION, FeatureConfig, log_mel, normalize


class FeatureCache:
    """Features of audio files, computed once and kept on disk.

    Entries are ``<folder>/<key[:2]>/<key>.npy`` of float16 (T, F) normalised features, keyed by
    the sha256 of the audio file's bytes and of the settings (with :data:`FEATURES_VERSION`), so
    an edited file or other settings never meet a stale entry. An entry is loaded without
    pickle and checked (shape, dtype, finite values): a damaged one is computed again. Entries
    are written to a temporary file and renamed into place, so an interrupted run leaves no
    half-written entry; a cache that cannot be written warns once and is then skipped.

    Args:
        config: the feature settings.
        folder: where entries go; None: ``lstmkit.data.cache.cache_dir("features")``; False: no
            disk cache (features are computed every time).

    Example:
        >>> import tempfile, soundfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     soundfile.write(Path(folder) / "a.wav", np.sin(np.arange(8000) / 3), 16000)
        ...     cache = FeatureCache(FeatureConfig(n_mels=40), Path(folder) / "cache")
        ...     first = cache.features(Path(folder) / "a.wav")
        ...     again = cache.features(Path(folder) / "a.wav")  # read from the cache
        ...     first.shape, first.dtype, torch.equal(first, again)
        (torch.Size([48, 40]), torch.float16, True)
    """

    def __init__(
        self, config: FeatureConfig, folder: str | os.PathLike | Literal[False] | None = None
    ) -> None:
        self.config = config
        self.folder = None if folder is False else Path(folder or cache_folder("features"))
        settings = {"version": FEATURES_VERSION, **config.to_dict()}
        self._settings = json.dumps(settings, sort_keys=True).encode()
        self._warned = False

    def key(self, path: str | os.PathLike) -> str:
        """sha256 (hex) of the file's bytes and the settings."""
        digest = hashlib.sha256()
        with open(path, "rb") as file:
            while piece := file.read(1 << 20):
                digest.update(piece)
        digest.update(b"\0features\0" + self._settings)
        return digest.hexdigest()

    def features(self, path: str | os.PathLike, max_seconds: float | None = None) -> Tensor:
        """(T, F) float16 normalised features of an audio file, from the cache when there.

        Raises:
            UserError: as :func:`~lstmkit.data.audio.read_audio` (checked from the header even
                when the features are cached), or a silent file
                (:func:`~lstmkit.data.audio.check_audible`).
        """
        check_duration(path, max_seconds)
        entry = None
        if self.folder is not None:
            key = self.key(path)
            entry = self.folder / key[:2] / f"{key}.npy"
            cached = self._load(entry)
            if cached is not None:
                return cached
        samples = read_audio(path, self.config.sample_rate, max_seconds)
        check_audible(samples, str(path))  # silence normalised would be noise blown up
        features = normalize(log_mel(samples, self.config), self.config).half()  # as fc says
        if entry is not None:
            self._store(entry, features.numpy())
        return features

    def _load(self, entry: Path) -> Tensor | None:
        """The entry's features if it is there and sound, else None."""
        try:
            array = np.load(entry, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError, EOFError):
            return None
        sound = (
            isinstance(array, np.ndarray)
            and array.dtype == np.float16
            and array.ndim == 2
            and array.shape[0] >= 1
            and array.shape[1] == self.config.n_mels
        )
        if not sound:
            return None
        features = torch.from_numpy(np.array(array))  # copied out of the memory map
        return features if torch.isfinite(features).all() else None

    def _store(self, entry: Path, array: np.ndarray) -> None:
        temporary = None
        try:
            entry.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(
                dir=entry.parent, prefix=".", suffix=".tmp", delete=False
            ) as file:
                temporary = Path(file.name)
                np.save(file, array, allow_pickle=False)
            os.replace(temporary, entry)
        except OSError as error:
            if temporary is not None:
                temporary.unlink(missing_ok=True)
            if not self._warned:
                self._warned = True
                warnings.warn(
                    Notice(f"{self.folder}: cannot cache features ({error}); computing them anew"),
                    stacklevel=3,
                )


def compute_features(
    paths: list[str | os.PathLike],
    config: FeatureConfig,
    *,
    max_seconds: float | None = None,
    cache_dir: str | os.PathLike | Literal[False] | None = None,
    progress: bool = False,
) -> list[Tensor]:
    """Normalised log-mel features of audio files, each computed once (:class:`FeatureCache`).

    Args:
        paths: the audio files.
        config: the feature settings.
        max_seconds: if given, a longer file is refused (judged from its header).
        cache_dir: the cache's folder; None: ``cache_dir("features")`` of
            :mod:`lstmkit.data.cache`; False: no disk cache.
        progress: a progress bar on stderr.

    Returns:
        One (T, F) float16 tensor per file (half the memory of float32; take ``.float()`` per
        batch).

    Raises:
        UserError: as :func:`~lstmkit.data.audio.read_audio`, naming the file.

    Example:
        >>> import tempfile, soundfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     soundfile.write(Path(folder) / "a.wav", np.sin(np.arange(4000) / 3), 8000)
        ...     [f.shape for f in compute_features([Path(folder) / "a.wav"], FeatureConfig(),
        ...                                        cache_dir=False)]
        [torch.Size([48, 80])]
    """
    cache = FeatureCache(config, cache_dir)
    with tqdm(paths, desc="features", unit="file", disable=not progress, leave=False) as bar:
        return [cache.features(path, max_seconds) for path in bar]


__all__ = ["FeatureCache", "compute_features"]
