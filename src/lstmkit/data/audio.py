"""Reading audio files: any format libsndfile reads, mixed down to mono and resampled.

:func:`read_audio` gives float32 samples in [-1, 1] at the rate asked for, whatever the file holds
(WAV of any PCM width or float, FLAC, OGG Vorbis, MP3 — libsndfile 1.1 and later decode MP3);
:func:`audio_info` reads the header alone, so that a duration limit is checked before the samples
are read. Every problem — a missing, unreadable, empty or too long file — is a
:class:`~lstmkit.errors.UserError` naming the file.

Example:
    >>> import tempfile, soundfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder) / "a.wav"
    ...     soundfile.write(path, np.full((8000, 2), 0.25, dtype="float32"), 8000)
    ...     audio_info(path), read_audio(path, sample_rate=16000).shape
    (AudioInfo(frames=8000, sample_rate=8000, channels=2, seconds=1.0), (16000,))
"""

from __future__ import annotations

import math
import os
import stat
from pathlib import Path
from typing import NamedTuple

import numpy as np

from lstmkit.errors import UserError

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")
# A peak 60 dB below full scale is 1/1000 of it: under the quantisation noise of 8-bit audio and
# far under any speech recording, so only silence or a near-zero gain falls below it.
SILENT_DBFS = -60.0


class AudioInfo(NamedTuple):
    """What an audio file's header says.

    Attributes:
        frames: samples per channel.
        sample_rate: samples per second (Hz).
        channels: the number of channels.
        seconds: the duration, ``frames / sample_rate``.
    """

    frames: int
    sample_rate: int
    channels: int
    seconds: float


def audio_info(path: str | os.PathLike) -> AudioInfo:
    """The header of an audio file, read without its samples.

    Raises:
        UserError: naming the file: missing, a folder or other non-regular file, or not audio
            libsndfile can read (with its reason).

    Example:
        >>> import tempfile, soundfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     soundfile.write(Path(folder) / "a.flac", np.zeros(400), 16000)
        ...     audio_info(Path(folder) / "a.flac").seconds
        0.025
    """
    path = _regular_file(path)
    soundfile = _soundfile()
    try:
        info = soundfile.info(str(path))
    except (soundfile.SoundFileError, RuntimeError, TypeError) as error:
        raise _unreadable(path, error) from None
    return AudioInfo(
        int(info.frames),
        int(info.samplerate),
        int(info.channels),
        info.frames / info.samplerate if info.samplerate > 0 else math.inf,
    )


def read_audio(
    path: str | os.PathLike, sample_rate: int = 16000, max_seconds: float | None = None
) -> np.ndarray:
    """The samples of an audio file: mono (channels averaged), at ``sample_rate``.

    Args:
        path: a file libsndfile reads (:data:`AUDIO_SUFFIXES` and more).
        sample_rate: the rate to resample to (:func:`resample`), in Hz.
        max_seconds: if given, a longer file is refused, judged from its header before any
            sample is read.

    Returns:
        (N,) float32 samples, full scale at ±1.

    Raises:
        UserError: naming the file: as :func:`audio_info`, or it holds no samples, or it is
            longer than ``max_seconds``; or naming ``sample_rate`` or ``max_seconds`` when not
            positive.

    Example:
        >>> import tempfile, soundfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = Path(folder) / "a.wav"
        ...     soundfile.write(path, np.array([0.5, -0.5]), 8000, subtype="PCM_16")
        ...     read_audio(path, sample_rate=8000)
        array([ 0.5, -0.5], dtype=float32)
    """
    _check_rate("sample_rate", sample_rate)
    info = check_duration(path, max_seconds)
    soundfile = _soundfile()
    try:
        with soundfile.SoundFile(str(path)) as file:
            data = file.read(dtype="float32", always_2d=True)  # (N, channels)
    except (soundfile.SoundFileError, RuntimeError, TypeError) as error:
        raise _unreadable(Path(path), error) from None
    if data.shape[0] == 0:
        raise UserError(f"{path}: expected audio samples, got none (an empty file)")
    samples = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
    return resample(samples, info.sample_rate, sample_rate)


def check_duration(path: str | os.PathLike, max_seconds: float | None = None) -> AudioInfo:
    """The header of an audio file (:func:`audio_info`), checked to hold samples, and at most
    ``max_seconds`` of them when given.

    Raises:
        UserError: as :func:`audio_info`; naming the file when it holds no samples or more than
            ``max_seconds``; naming ``max_seconds`` when it is not a number > 0.

    Example:
        >>> import tempfile, soundfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     soundfile.write(Path(folder) / "a.wav", np.zeros(32000), 16000)
        ...     check_duration(Path(folder) / "a.wav", max_seconds=2.5).seconds
        2.0
    """
    number = isinstance(max_seconds, int | float) and not isinstance(max_seconds, bool)
    if max_seconds is not None and not (number and max_seconds > 0):
        raise UserError(f"max_seconds: expected a number of seconds > 0, got {max_seconds!r}")
    info = audio_info(path)
    if info.sample_rate <= 0:
        raise UserError(f"{path}: expected a sample rate > 0 in the header, got {info.sample_rate}")
    if info.frames <= 0:
        raise UserError(f"{path}: expected audio samples, got none (an empty file)")
    if max_seconds is not None and info.seconds > max_seconds:
        raise UserError(
            f"{path}: expected at most {max_seconds:g} s of audio (`max_seconds`), "
            f"got {info.seconds:.2f} s"
        )
    return info


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Samples at another rate, by polyphase filtering (``scipy.signal.resample_poly``).

    The up and down factors are the rates divided by their greatest common divisor; the output
    has ``ceil(N * to_rate / from_rate)`` samples.

    Args:
        samples: (N,) the samples.
        from_rate, to_rate: their rate and the rate wanted, in Hz.

    Returns:
        (M,) float32 samples; ``samples`` as float32 when the rates are equal.

    Raises:
        UserError: naming the rate that is not a positive integer.

    Example:
        >>> resample(np.ones(441, dtype=np.float32), 44100, 16000).shape
        (160,)
    """
    _check_rate("from_rate", from_rate)
    _check_rate("to_rate", to_rate)
    samples = np.asarray(samples, dtype=np.float32)
    if from_rate == to_rate:
        return samples
    g = math.gcd(from_rate, to_rate)
    from scipy.signal import resample_poly  # the speech extra

    return resample_poly(samples, to_rate // g, from_rate // g).astype(np.float32, copy=False)


def check_audible(samples: np.ndarray, where: str) -> None:
    """Refuses silence: audio whose peak is below :data:`SILENT_DBFS` (-60 dBFS).

    Args:
        samples: (N,) samples, full scale at ±1.
        where: the file (and line) they came from, for the message.

    Raises:
        UserError: ``"<where>: silent audio (peak X dBFS) ..."``.

    Example:
        >>> check_audible(np.array([0.0, 0.5]), "a.wav")
        >>> check_audible(np.zeros(3), "b.wav")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        lstmkit.errors.UserError: b.wav: silent audio (peak -inf dBFS); expected ...
    """
    samples = np.asarray(samples)
    peak = float(np.abs(samples).max()) if samples.size else 0.0
    decibels = 20 * math.log10(peak) if peak > 0 else -math.inf
    if not decibels >= SILENT_DBFS:
        raise UserError(
            f"{where}: silent audio (peak {decibels:.1f} dBFS); "
            f"expected a peak above {SILENT_DBFS:g} dBFS"
        )


def _regular_file(path: str | os.PathLike) -> Path:
    """``path`` as a Path, if it is a regular file; a FIFO or device is never opened."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise UserError(f"{path}: no such audio file") from None
    except OSError as error:
        raise UserError(f"{path}: cannot read ({error.strerror})") from None
    if not stat.S_ISREG(mode):
        what = "a folder" if stat.S_ISDIR(mode) else "a special file (FIFO, device, socket)"
        raise UserError(f"{path}: expected an audio file, got {what}")
    return path


def _unreadable(path: Path, error: Exception) -> UserError:
    reason = getattr(error, "error_string", None) or str(error)
    reason = " ".join(reason.split()).rstrip(".")  # one line
    return UserError(f"{path}: expected audio that libsndfile can read, got an error: {reason}")


def _check_rate(name: str, rate: int) -> None:
    if isinstance(rate, bool) or not isinstance(rate, int | np.integer) or rate <= 0:
        raise UserError(f"{name}: expected a sample rate in Hz (an integer > 0), got {rate!r}")


def _soundfile():
    """The soundfile module (the speech extra), imported when audio is first read, so that
    ``lstmkit --help`` and the manifest reader work without it."""
    import soundfile

    return soundfile


__all__ = [
    "AUDIO_SUFFIXES",
    "SILENT_DBFS",
    "AudioInfo",
    "audio_info",
    "check_audible",
    "check_duration",
    "read_audio",
    "resample",
]
