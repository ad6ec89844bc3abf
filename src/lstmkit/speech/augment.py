"""Training-time augmentation of log-mel features: vocal tract length perturbation and
SpecAugment.

Both act on one utterance's normalised features (T, F) and draw from a ``torch.Generator``, so
that a batch's augmentation is a function of the run's seed, the epoch and the batch
(:class:`lstmkit.speech.task.SpeechTask`) and a resumed run sees exactly what an uninterrupted
one would.

* :func:`warp_frequencies` — vocal tract length perturbation (VTLP; Jaitly & Hinton 2013): the
  spectrum stretched or squeezed along frequency by a factor near 1, as a longer or shorter
  vocal tract moves every formant by the same ratio. Drawn per utterance
  (:func:`random_warp`), it makes one voice sound like many: the speaker variety a small corpus
  lacks.
* :func:`spec_augment` — SpecAugment's time and frequency masks (Park et al. 2019).

Legend: T frames, F features (mel bands).
"""

from __future__ import annotations

import inspect
import math

import numpy as np
import torch
from torch import Tensor

from lstmkit.errors import UserError
from lstmkit.speech.features import FeatureConfig, hz_to_mel, mel_to_hz

MAX_WARP = 0.5  # a warp spread at or above this would turn some factors ≤ 0.5 (an octave)


def _is_fraction(value) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and 0 <= value <= 1
    )


def band_centres(config: FeatureConfig) -> Tensor:
    """The centre frequency (Hz) of each of the config's mel bands, (F,) float64.

    The filters' centres are ``n_mels`` of the ``n_mels + 2`` edges equally spaced in mel from
    ``f_min`` to ``f_max`` (:func:`~lstmkit.speech.features.mel_filterbank`).

    Example:
        >>> centres = band_centres(FeatureConfig(n_mels=40))
        >>> centres.shape, bool((centres.diff() > 0).all()), float(centres[-1]) < 8000
        (torch.Size([40]), True, True)
    """
    mels = np.linspace(hz_to_mel(config.f_min), hz_to_mel(config.top), config.n_mels + 2)
    return torch.from_numpy(mel_to_hz(mels[1:-1]))


def warp_frequencies(features: Tensor, factor: float, centres: Tensor) -> Tensor:
    """The features of the same utterance with every frequency multiplied by ``factor``.

    Band ``k`` (centre ``centres[k]`` Hz) takes the value the input has at ``centres[k] /
    factor`` Hz, interpolated linearly in mel between the two bands around it; frequencies
    beyond the first or last centre take that band's value. ``factor`` > 1 moves formants up
    (a shorter vocal tract), < 1 down.

    Args:
        features: (T, F) log-mel features (normalised or not).
        factor: the frequency ratio, > 0.
        centres: (F,) the bands' centre frequencies in Hz (:func:`band_centres`).

    Returns:
        (T, F) a new tensor of ``features``' dtype.

    Raises:
        UserError: naming ``factor`` or ``features`` when out of range or of the wrong shape.

    Example:
        >>> centres = band_centres(FeatureConfig(n_mels=40))
        >>> x = torch.zeros(1, 40)
        >>> x[0, 20] = 1.0  # a peak at band 20
        >>> int(warp_frequencies(x, 1.2, centres).argmax())  # a higher band, 20% up in Hz
        22
    """
    if not isinstance(factor, int | float) or isinstance(factor, bool) or not factor > 0:
        raise UserError(f"factor: expected a number > 0, got {factor!r}")
    if features.ndim != 2 or features.shape[1] != centres.shape[0]:
        raise UserError(
            f"features: expected (T, {centres.shape[0]}), got shape {tuple(features.shape)}"
        )
    mels = hz_to_mel(centres.numpy())  # (F,), equally spaced
    source = hz_to_mel(centres.numpy() / factor)  # (F,) where each band reads from, in mel
    position = np.interp(source, mels, np.arange(len(mels)))  # clamped to [0, F - 1]
    low = np.floor(position).astype(np.int64)
    high = np.minimum(low + 1, len(mels) - 1)
    weight = torch.from_numpy(position - low).to(features.dtype)  # (F,)
    low, high = torch.from_numpy(low), torch.from_numpy(high)
    return features[:, low] * (1 - weight) + features[:, high] * weight


def random_warp(
    features: Tensor, generator: torch.Generator, spread: float, centres: Tensor
) -> Tensor:
    """:func:`warp_frequencies` by a factor drawn uniformly from ``[1 - spread, 1 + spread]``.

    Args:
        features: (T, F) features.
        generator: the source of randomness: the same generator state gives the same factor.
        spread: the widest relative change, in ``[0, 0.5)``; 0 leaves the features as they are.
        centres: (F,) the bands' centre frequencies in Hz (:func:`band_centres`).

    Returns:
        (T, F) a new tensor.

    Example:
        >>> centres = band_centres(FeatureConfig(n_mels=8))
        >>> x = torch.randn(5, 8)
        >>> torch.equal(random_warp(x, torch.Generator(), 0.0, centres), x)
        True
    """
    check_spread(spread, "spread")
    u = float(torch.rand((), generator=generator, dtype=torch.float64))
    return warp_frequencies(features, 1 + spread * (2 * u - 1), centres)


def check_spread(spread, name: str) -> float:
    """``spread`` when it is a number in ``[0, 0.5)``.

    Raises:
        UserError: naming ``name`` otherwise.
    """
    if not _is_fraction(spread) or not spread < MAX_WARP:
        raise UserError(f"{name}: expected a number in [0, {MAX_WARP}), got {spread!r}")
    return float(spread)


# Time masks scale with T (Park et al. 2020, adaptive masking): LibriSpeech's fixed 100-frame
# mask would erase a quarter to all of a 1–4 s utterance; 2 × 5 % leaves most words whole.
def spec_augment(
    features: Tensor,
    generator: torch.Generator,
    freq_masks: int = 2,
    freq_width: int = 27,
    time_masks: int = 2,
    time_fraction: float = 0.05,
) -> Tensor:
    """SpecAugment's masks (Park et al. 2019, 2020): bands and frames set to 0, the mean of
    normalised features.

    Each frequency mask covers ``f`` bands, ``f`` uniform in ``[0, freq_width]``, at a uniform
    place; each time mask covers ``t`` frames, ``t`` uniform in ``[0, floor(time_fraction * T)]``
    (adaptive to the utterance's length). Masks may overlap.

    Args:
        features: (T, F) normalised features.
        generator: the source of randomness: the same generator state gives the same masks.
        freq_masks, freq_width: frequency masks and the widest.
        time_masks, time_fraction: time masks and the widest as a share of T.

    Returns:
        (T, F) a new tensor; ``features`` is left as it was.

    Raises:
        UserError: naming the setting that is negative (or a fraction above 1), or ``features``
            when it is not 2-D.

    Example:
        >>> x = torch.ones(100, 80)
        >>> out = spec_augment(x, torch.Generator().manual_seed(0))
        >>> bool((out == 0).any()), bool((x == 1).all()), out.shape
        (True, True, torch.Size([100, 80]))
    """
    for name, value in (
        ("freq_masks", freq_masks),
        ("freq_width", freq_width),
        ("time_masks", time_masks),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise UserError(f"{name}: expected an integer ≥ 0, got {value!r}")
    if not _is_fraction(time_fraction):
        raise UserError(f"time_fraction: expected a number in [0, 1], got {time_fraction!r}")
    if features.ndim != 2:
        raise UserError(f"features: expected (T, F), got shape {tuple(features.shape)}")
    out = features.clone()
    T, F = out.shape

    def draw(high: int) -> int:  # uniform in [0, high]
        return int(torch.randint(0, high + 1, (), generator=generator))

    for _ in range(freq_masks):
        width = draw(min(freq_width, F))
        start = draw(F - width)
        out[:, start : start + width] = 0
    for _ in range(time_masks):
        width = draw(int(time_fraction * T))
        start = draw(T - width)
        out[start : start + width] = 0
    return out


def check_spec_augment(settings: dict, name: str) -> None:
    """Checks a mapping of :func:`spec_augment`'s settings, keys and values, on a small input
    before any work.

    Raises:
        UserError: naming ``name`` and the setting that is unknown or cannot be used.
    """
    known = [p for p in inspect.signature(spec_augment).parameters][2:]
    for key in settings:
        if key not in known:
            raise UserError(f"{name}.{key}: expected one of {', '.join(known)}, got an unknown one")
    try:
        spec_augment(torch.zeros(4, 4), torch.Generator(), **settings)
    except UserError as error:
        raise UserError(f"{name}.{error}") from None


__all__ = [
    "MAX_WARP",
    "band_centres",
    "check_spec_augment",
    "check_spread",
    "random_warp",
    "spec_augment",
    "warp_frequencies",
]
