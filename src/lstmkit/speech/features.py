"""Log-mel features and their normalisation (per utterance or causal).

An utterance's features are :func:`log_mel` of its samples — a short-time power spectrum
through triangular mel filters (:func:`mel_filterbank`), ``log(x + 1e-6)`` — normalised band by
band over time: over the whole utterance (:func:`normalize_utterance`, the default) or, for
streaming, by the running statistics of the frames so far (:func:`normalize_causal`,
``FeatureConfig(normalize="causal")``). Frames are not centred (frame ``t`` covers samples
``[t * hop, t * hop + win)``), so the features of a stream cut into overlapping chunks equal
those of the whole (:class:`lstmkit.speech.stream.FeatureStream` computes them so).
:func:`~lstmkit.speech.feature_cache.compute_features` computes them once per audio file and
keeps them on disk (:mod:`lstmkit.speech.feature_cache`).

Legend: N samples, T frames, F features (``n_mels``).

Example:
    >>> config = FeatureConfig()
    >>> config.win_length, config.hop_length, config.fft_size
    (400, 160, 512)
    >>> features = features_of_samples(np.random.default_rng(0).normal(size=16000), config)
    >>> features.shape, abs(float(features.mean())) < 1e-5
    (torch.Size([98, 80]), True)
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from lstmkit.data.audio import resample
from lstmkit.errors import UserError

LOG_FLOOR = 1e-6  # added to the mel energies before the log: -13.8 for digital silence
STD_FLOOR = 1e-5  # the smallest standard deviation a band is divided by
# normalize_causal's prior: the running statistics start as this many frames equal to the first
# one, spread by this standard deviation (nats; a log-mel band of speech spreads by 4-6 over an
# utterance), so that the first frames are neither 0/0 nor blown up by a tiny variance.
CAUSAL_PRIOR_FRAMES = 25
CAUSAL_PRIOR_STD = 4.0
NORMALIZATIONS = ("utterance", "causal")
# Bumped whenever log_mel or normalize_utterance change, so that cached features are recomputed.
FEATURES_VERSION = 2  # 2: normalised as FeatureConfig.normalize says


@dataclass(frozen=True)
class FeatureConfig:
    """How features are computed from audio.

    Attributes:
        sample_rate: audio is resampled to this rate (Hz) first.
        n_mels: mel bands, the features per frame (F).
        win_ms, hop_ms: the analysis window and the step between frames, in milliseconds.
        n_fft: FFT size; None: the next power of two ≥ the window (512 at 16 kHz).
        f_min, f_max: the mel filters' frequency range in Hz; f_max None: the Nyquist frequency.
        normalize: ``"utterance"``: each band to mean 0 and deviation 1 over the utterance
            (:func:`normalize_utterance`); ``"causal"``: by the running statistics of the frames
            so far (:func:`normalize_causal`), which streaming recognition needs.

    Raises:
        UserError: naming the field that is out of range, or ``n_mels`` when some mel filter
            would hold no FFT bin (too many bands for the FFT's resolution).
    """

    sample_rate: int = 16000
    n_mels: int = 80
    win_ms: float = 25.0
    hop_ms: float = 10.0
    n_fft: int | None = None
    f_min: float = 0.0
    f_max: float | None = None
    normalize: str = "utterance"

    def __post_init__(self) -> None:
        for name in ("sample_rate", "n_mels"):
            _check_int(name, getattr(self, name), 1)
        for name in ("win_ms", "hop_ms"):
            value = getattr(self, name)
            if not _is_number(value) or not value > 0:
                raise UserError(f"{name}: expected a number of milliseconds > 0, got {value!r}")
        if self.win_length < 2:
            raise UserError(
                f"win_ms: expected a window of at least 2 samples at {self.sample_rate} Hz, got "
                f"{self.win_ms!r} ms ({self.win_length} samples)"
            )
        if self.hop_length < 1 or self.hop_ms > self.win_ms:
            raise UserError(
                f"hop_ms: expected a step of at least 1 sample and at most win_ms ({self.win_ms} "
                f"ms) so that every sample is in a frame, got {self.hop_ms!r}"
            )
        if self.n_fft is not None:
            _check_int("n_fft", self.n_fft, self.win_length)
        nyquist = self.sample_rate / 2
        if not _is_number(self.f_min) or not 0 <= self.f_min < nyquist:
            raise UserError(
                f"f_min: expected a frequency in [0, {nyquist:g}) Hz, got {self.f_min!r}"
            )
        if self.f_max is not None and (
            not _is_number(self.f_max) or not self.f_min < self.f_max <= nyquist
        ):
            raise UserError(
                f"f_max: expected a frequency in ({self.f_min:g}, {nyquist:g}] Hz (above f_min, "
                f"at most the Nyquist frequency), got {self.f_max!r}"
            )
        if self.normalize not in NORMALIZATIONS:
            raise UserError(
                f"normalize: expected one of {', '.join(NORMALIZATIONS)}, got {self.normalize!r}"
            )
        empty = _empty_filters(self)
        if empty:
            raise UserError(
                f"n_mels: expected mel bands that each hold an FFT bin, got {self.n_mels}: band "
                f"{empty[0]} holds none with n_fft={self.fft_size} at {self.sample_rate} Hz; use "
                "fewer bands, a larger n_fft or a higher f_min"
            )

    @property
    def win_length(self) -> int:
        """The window in samples."""
        return round(self.sample_rate * self.win_ms / 1000)

    @property
    def hop_length(self) -> int:
        """The step between frames in samples."""
        return round(self.sample_rate * self.hop_ms / 1000)

    @property
    def fft_size(self) -> int:
        """``n_fft``, or the next power of two ≥ the window."""
        return self.n_fft or 1 << (self.win_length - 1).bit_length()

    @property
    def top(self) -> float:
        """``f_max``, or the Nyquist frequency."""
        return self.sample_rate / 2 if self.f_max is None else float(self.f_max)

    def num_frames(self, num_samples: int) -> int:
        """T for N samples: ``1 + (N - win) // hop``, and 1 for audio shorter than a window."""
        return 1 + max(0, num_samples - self.win_length) // self.hop_length

    def to_dict(self) -> dict:
        """The settings as a JSON-ready dict (``FeatureConfig(**d)`` rebuilds it)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict, where: str = "features") -> FeatureConfig:
        """A config from :meth:`to_dict`'s dict; an unknown key is a UserError naming it."""
        fields = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise UserError(
                f"{where}: unknown setting {unknown[0]!r}; expected one of {', '.join(fields)}"
            )
        return cls(**data)


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_int(name: str, value, least: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise UserError(f"{name}: expected an integer ≥ {least}, got {value!r}")


def _empty_filters(config: FeatureConfig) -> list[int]:
    bank = mel_filterbank(
        config.fft_size // 2 + 1, config.n_mels, config.sample_rate, config.f_min, config.top
    )
    return (bank.sum(0) == 0).nonzero().flatten().tolist()


def hz_to_mel(hz):
    """The HTK mel scale: ``2595 log10(1 + f / 700)``."""
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def mel_to_hz(mel):
    """The inverse of :func:`hz_to_mel`."""
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(
    n_freqs: int,
    n_mels: int,
    sample_rate: int,
    f_min: float = 0.0,
    f_max: float | None = None,
) -> Tensor:
    """Triangular filters equally spaced on the HTK mel scale, peak 1, not area-normalised.

    Filter ``m`` rises from 0 at edge ``m`` to 1 at edge ``m + 1`` and falls to 0 at edge
    ``m + 2``, of ``n_mels + 2`` edges equally spaced in mel from ``f_min`` to ``f_max``; FFT bin
    ``k`` is at ``k * (sample_rate / 2) / (n_freqs - 1)`` Hz. As torchaudio's
    ``melscale_fbanks(..., norm=None, mel_scale="htk")``, but for odd sample rates, whose bins
    it places at ``sample_rate // 2``.

    Args:
        n_freqs: FFT bins, ``n_fft // 2 + 1``.
        n_mels: filters.
        sample_rate: Hz.
        f_min, f_max: the range in Hz; f_max None: ``sample_rate / 2``.

    Returns:
        (n_freqs, n_mels) float32 weights: mel energies are ``power (T, n_freqs) @ weights``.

    Example:
        >>> bank = mel_filterbank(257, 40, 16000)
        >>> bank.shape, float(bank.max()) <= 1, bool((bank.sum(0) > 0).all())
        (torch.Size([257, 40]), True, True)
    """
    f_max = sample_rate / 2 if f_max is None else f_max
    freqs = np.linspace(0.0, sample_rate / 2, n_freqs)  # (n_freqs,)
    edges = mel_to_hz(np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2))
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]  # (n_mels,) each
    rising = (freqs[:, None] - lower) / (centre - lower)  # (n_freqs, n_mels)
    falling = (upper - freqs[:, None]) / (upper - centre)
    return torch.from_numpy(np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32))


@functools.lru_cache(maxsize=8)
def _analysis(config: FeatureConfig) -> tuple[Tensor, Tensor]:
    """The Hann window and the mel filters of a config, made once."""
    bank = mel_filterbank(
        config.fft_size // 2 + 1, config.n_mels, config.sample_rate, config.f_min, config.top
    )
    return torch.hann_window(config.win_length, dtype=torch.float32), bank


def log_mel(samples: np.ndarray | Tensor, config: FeatureConfig) -> Tensor:
    """Log mel energies of audio at ``config.sample_rate``.

    Each frame of ``win`` samples (every ``hop``, not centred) is multiplied by a periodic Hann
    window, zero-padded to ``n_fft``; its power spectrum goes through :func:`mel_filterbank`, and
    ``log(x + 1e-6)`` is taken. Audio shorter than one window is zero-padded to one.

    Args:
        samples: (N,) float samples, full scale at ±1.
        config: the settings.

    Returns:
        (T, F) float32, ``T = 1 + (N - win) // hop`` (:meth:`FeatureConfig.num_frames`).

    Raises:
        UserError: naming ``samples`` when not a 1-D array of finite floats.

    Example:
        >>> log_mel(torch.zeros(16000), FeatureConfig(n_mels=40)).shape
        torch.Size([98, 40])
    """
    x = as_samples(samples)
    window, bank = _analysis(config)
    win, hop, n_fft = config.win_length, config.hop_length, config.fft_size
    if x.numel() < win:
        x = torch.nn.functional.pad(x, (0, win - x.numel()))
    # torch.stft centres a shorter window in each n_fft-long frame; padding the signal by the
    # same amounts makes frame t start at sample t * hop, so T = 1 + (N - win) // hop.
    left = (n_fft - win) // 2
    x = torch.nn.functional.pad(x, (left, n_fft - win - left))
    spectrum = torch.stft(x, n_fft, hop, win, window, center=False, return_complex=True)
    power = spectrum.real.square() + spectrum.imag.square()  # (n_freqs, T)
    power = power.T  # (T, n_freqs)
    if power.shape[0] == 1:
        # A one-row product runs another BLAS kernel (gemv), a rounding apart from the rows of
        # a longer one: two rows keep a frame's features the same whatever the chunk it is in.
        return torch.log(torch.cat([power, power]) @ bank + LOG_FLOOR)[:1]  # (1, F)
    return torch.log(power @ bank + LOG_FLOOR)  # (T, F)


def as_samples(samples: np.ndarray | Tensor) -> Tensor:
    """(N,) float32 samples, checked: a 1-D array of finite floats.

    Raises:
        UserError: naming ``samples``: integers, more than one dimension, NaN or infinity.

    Example:
        >>> as_samples(np.zeros(3, np.float64))
        tensor([0., 0., 0.])
    """
    dtype = samples.dtype if hasattr(samples, "dtype") else None
    x = torch.as_tensor(samples)
    if not x.is_floating_point():
        raise UserError(
            f"samples: expected float samples, full scale at ±1, got {dtype or x.dtype} (divide "
            "integer PCM by its full scale, 32768 for int16)"
        )
    if x.ndim != 1:
        raise UserError(
            f"samples: expected a 1-D array (N,) of mono audio, got shape {tuple(x.shape)}"
        )
    x = x.to(torch.float32)
    if not torch.isfinite(x).all():
        raise UserError("samples: expected finite values, got NaN or infinity")
    return x


def normalize_utterance(features: Tensor) -> Tensor:
    """Each band shifted and scaled to mean 0 and standard deviation 1 over the utterance's time.

    A band's standard deviation is floored at :data:`STD_FLOOR`, so a constant band becomes 0.

    Args:
        features: (T, F).

    Returns:
        (T, F) float32, a new tensor.

    Example:
        >>> out = normalize_utterance(torch.tensor([[1.0, 5.0], [3.0, 5.0]]))
        >>> out.tolist()
        [[-1.0, 0.0], [1.0, 0.0]]
    """
    x = features.float()
    mean = x.mean(0, keepdim=True)  # (1, F)
    std = x.std(0, unbiased=False, keepdim=True).clamp(min=STD_FLOOR)
    return (x - mean) / std


class CausalStats(NamedTuple):
    """The running statistics :func:`normalize_causal` carries from one chunk to the next: the
    same size however many frames they summarise."""

    count: float  # frames summarised, the prior's included
    total: np.ndarray  # (F,) float64, the sum of the frames
    squares: np.ndarray  # (F,) float64, the sum of their squares


def normalize_causal(
    features: Tensor, stats: CausalStats | None = None
) -> tuple[Tensor, CausalStats | None]:
    """Each frame shifted and scaled, band by band, by the mean and standard deviation of the
    frames up to and including it: frame ``t`` depends on no later frame.

    The statistics start from a prior of :data:`CAUSAL_PRIOR_FRAMES` frames equal to the first
    frame with a standard deviation of :data:`CAUSAL_PRIOR_STD` (so the first frame becomes 0
    and a level change is not divided by a near-zero deviation); the deviation is floored at
    :data:`STD_FLOOR`. Sums are accumulated in float64, one frame after another, so a stream
    cut into chunks (each call given the ``stats`` the last returned) gives exactly the
    features of one call over the whole.

    Args:
        features: (T, F) log-mel frames continuing those ``stats`` summarise.
        stats: what the previous call returned; None: the stream starts here.

    Returns:
        The (T, F) float32 normalised frames, and the statistics to continue with (None while
        no frame has been seen).

    Example:
        >>> x = torch.tensor([[1.0], [1.0], [3.0]])
        >>> whole, _ = normalize_causal(x)
        >>> first, stats = normalize_causal(x[:2])
        >>> rest, _ = normalize_causal(x[2:], stats)
        >>> whole[:2].tolist(), torch.equal(torch.cat([first, rest]), whole)
        ([[0.0], [0.0]], True)
    """
    x = features.detach().cpu().double().numpy()  # (T, F)
    T = x.shape[0]
    if T == 0:
        return torch.zeros(features.shape, dtype=torch.float32), stats
    if stats is None:
        first, n = x[0], float(CAUSAL_PRIOR_FRAMES)
        stats = CausalStats(n, n * first, n * (first * first + CAUSAL_PRIOR_STD**2))
    # np.cumsum adds row after row (no pairwise summation), so chunks add up as the whole does
    total = np.cumsum(np.concatenate([stats.total[None], x]), axis=0)[1:]  # (T, F)
    squares = np.cumsum(np.concatenate([stats.squares[None], x * x]), axis=0)[1:]
    count = stats.count + np.arange(1, T + 1, dtype=np.float64)[:, None]  # (T, 1)
    mean = total / count
    std = np.sqrt(np.maximum(squares / count - mean * mean, STD_FLOOR**2))
    out = torch.from_numpy(((x - mean) / std).astype(np.float32))  # (T, F)
    return out, CausalStats(float(count[-1, 0]), total[-1].copy(), squares[-1].copy())


def normalize(features: Tensor, config: FeatureConfig) -> Tensor:
    """``features`` (T, F) normalised as ``config.normalize`` says, the whole utterance at once.

    Example:
        >>> x = torch.tensor([[1.0, 5.0], [3.0, 5.0]])
        >>> normalize(x, FeatureConfig()).tolist()
        [[-1.0, 0.0], [1.0, 0.0]]
    """
    if config.normalize == "causal":
        return normalize_causal(features)[0]
    return normalize_utterance(features)


def features_of_samples(
    samples: np.ndarray | Tensor, config: FeatureConfig, sample_rate: int | None = None
) -> Tensor:
    """Normalised log-mel features of in-memory audio (normalised as ``config.normalize`` says).

    Args:
        samples: (N,) float samples, full scale at ±1.
        config: the settings.
        sample_rate: the samples' rate (Hz), resampled to ``config.sample_rate`` when it differs;
            None: already at it.

    Returns:
        (T, F) float32.

    Example:
        >>> features_of_samples(np.ones(8000) * 0.1, FeatureConfig(), sample_rate=8000).shape
        torch.Size([98, 80])
    """
    x = as_samples(samples)
    if sample_rate is not None and sample_rate != config.sample_rate:
        x = torch.from_numpy(resample(x.numpy(), sample_rate, config.sample_rate))
    return normalize(log_mel(x, config), config)


__all__ = [
    "CAUSAL_PRIOR_FRAMES",
    "CAUSAL_PRIOR_STD",
    "FEATURES_VERSION",
    "LOG_FLOOR",
    "NORMALIZATIONS",
    "STD_FLOOR",
    "CausalStats",
    "FeatureConfig",
    "as_samples",
    "features_of_samples",
    "hz_to_mel",
    "log_mel",
    "mel_filterbank",
    "mel_to_hz",
    "normalize",
    "normalize_causal",
    "normalize_utterance",
]
