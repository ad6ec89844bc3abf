"""Built-in spoken data, synthesised with espeak-ng on first use: nothing is downloaded.

Four corpora (``mixed``, the default, ``digits``, ``numbers`` and ``sentences``), whose texts
:mod:`lstmkit.data.speech_texts` draws, are spoken here. Each utterance is spoken by a voice
identity ``accent+variant`` (``en-gb-scotland+f3``), at a random speaking rate (120–200 words a
minute), pitch (20–80) and word gap, with 0.05–0.4 s of silence before and after, white, pink or
brown noise at 20–40 dB SNR and a random level. The variants are split into three fixed groups
(:data:`SPEECH_VARIANTS`): training hears every accent with the train variants only, and valid
and test each use variants heard nowhere else, so both measure unseen voices (and valid and test
texts of three words or more never occur in training). Most files are 16 kHz mono WAV; of every
20 utterances, six are 16 kHz FLAC, 8 kHz WAV, 22.05 kHz WAV, 44.1 kHz FLAC, 16 kHz stereo WAV
and 22.05 kHz stereo FLAC, so that readers resample and mix down. Real recordings to report on
come from :mod:`lstmkit.data.speech_recordings`.

Generation is deterministic given the seed: the same texts, voices, rates, noise and bytes
(espeak-ng is deterministic for one version, which is part of the cache key). The default corpus
(10000 + 250 + 500 utterances of 1–4 s, about 8 hours of audio, 890 MB) took 2 min 44 s on the
development machine's two cores (beside two other jobs), once. Valid and test are drawn before
train, so a larger training part leaves them as they were.

Example:
    >>> set(SPEECH_VARIANTS["train"]) & set(SPEECH_VARIANTS["valid"] + SPEECH_VARIANTS["test"])
    set()
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import random
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lstmkit.data.cache import cache_dir, publish_entry
from lstmkit.data.speech_recordings import POCKETSPHINX_DATA, pocketsphinx_testdata
from lstmkit.data.speech_texts import (
    DEFAULT_SPEECH,
    SPEECH_BUILTIN,
    SPEECH_CHARS,
    SPEECH_SIZES,
    checked_speech_size,
    speech_texts,
)
from lstmkit.errors import UserError

SPEECH_SAMPLE_RATE = 16000
# Bump when anything that changes the generated files changes: it is part of the cache key.
SPEECH_VERSION = 1
MISSING_ESPEAK = (
    "the built-in speech data is synthesised with espeak-ng, which is not installed "
    "(apt-get install espeak-ng)"
)
# espeak-ng's English voices without mbrola (an mbrola voice that is not installed silently
# falls back to another voice, so none is listed). British is "en": espeak-ng 1.51 ignores the
# variant of "en-gb+f3" and speaks plain en-gb.
SPEECH_ACCENTS = (
    "en-us", "en-us-nyc", "en", "en-gb-x-rp", "en-gb-scotland",
    "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029",
)  # fmt: skip
# espeak-ng's voice variants, less the robotic, echoing, whispering and novelty ones (and klatt6,
# which sounds as klatt); each group mixes female, male and klatt-synthesised variants.
SPEECH_VARIANTS: dict[str, tuple[str, ...]] = {
    "train": (
        "f1", "f2", "f5", "m1", "m2", "m4", "m6", "m7", "m8", "klatt", "klatt2", "klatt4",
        "Alex", "Alicia", "Andrea", "Andy", "Denis", "Diogo", "Gene", "Gene2", "Jacky",
        "Lee", "Marco", "Mario", "Michael", "Mike", "Storm", "adam", "anika", "antonio", "aunty",
        "benjamin", "boris", "david", "ed", "edward", "grandma", "gustave", "iven", "iven3",
        "linda", "marcelo", "max", "michel", "norbert", "paul", "pedro", "quincy", "rob",
        "sandro", "steph", "steph3", "travis", "victor",
    ),
    "valid": ("f3", "m3", "klatt5", "Annie", "Hugo", "miguel"),
    "test": ("f4", "m5", "klatt3", "belinda", "edward2", "Henrique", "iven2", "robert", "shelby"),
}  # fmt: skip
_SPLITS = ("train", "valid", "test")
# (sample rate, channels, format) by position in each block of 20 utterances; the rest are
# 16 kHz mono WAV. Positions are unrelated to texts and voices, which are drawn at random.
_FORMATS = {
    1: (16000, 1, "FLAC"),
    3: (8000, 1, "WAV"),
    5: (22050, 1, "WAV"),
    7: (44100, 1, "FLAC"),
    9: (16000, 2, "WAV"),
    11: (22050, 2, "FLAC"),
}
_COLUMNS = ("split", "path", "text", "voice", "rate", "pitch", "gap", "lead", "trail", "noise")
_COLUMNS += ("snr_db", "sample_rate", "channels", "format")


@dataclass(frozen=True)
class SpeechCorpus:
    """A generated built-in corpus: three manifests (``path<TAB>text``, paths relative to the
    manifest's folder, no header) and the voice identities each split used.

    ``metadata`` is a TSV with a header: each utterance's split, path, text, voice, rate
    (words a minute), pitch, word gap (10 ms units), silence before and after the speech
    (``lead``, ``trail``, seconds), noise colour, SNR (dB), sample rate, channels and format.
    """

    folder: Path
    train: Path
    valid: Path
    test: Path
    metadata: Path
    voices: dict[str, tuple[str, ...]]


def espeak_available() -> bool:
    """Whether the ``espeak-ng`` program is on the ``PATH``."""
    return shutil.which("espeak-ng") is not None


def builtin_speech(
    name: str = DEFAULT_SPEECH,
    *,
    size: tuple[int, int, int] | None = None,
    seed: int = 0,
    cache: Path | None = None,
    progress: bool = False,
) -> SpeechCorpus:
    """A built-in spoken corpus, synthesised with espeak-ng into the cache on first use.

    The corpus lives in ``cache / f"{name}-{key}"``, ``key`` a hash of the name, size, seed,
    :data:`SPEECH_VERSION` and espeak-ng's version. It is built in a temporary folder beside it
    and renamed into place when complete, so an interrupted generation is never used; a later
    call finds it and returns at once. Synthesis runs in up to four threads (one espeak-ng
    process each).

    Args:
        name: one of :data:`SPEECH_BUILTIN` (default ``"mixed"``).
        size: ``(train, valid, test)`` utterance counts (default :data:`SPEECH_SIZES`).
        seed: the seed of texts, voices and noise (default 0).
        cache: the folder that holds built corpora (default
            ``lstmkit.data.cache.cache_dir("speech")``).
        progress: show a progress bar while synthesising.

    Returns:
        The :class:`SpeechCorpus`.

    Raises:
        UserError: espeak-ng is not installed or fails, an unknown name or a bad size.

    Example:
        >>> corpus = builtin_speech("digits", size=(12, 4, 4))  # doctest: +SKIP
        >>> corpus.test.read_text().splitlines()[0]  # doctest: +SKIP
        'test/000000.wav\\tfive eight four four nine two'
        >>> corpus.voices["test"][:2]  # doctest: +SKIP
        ('en-gb-x-gbclan+klatt3', 'en-gb-x-gbcwmd+Henrique')
    """
    size = checked_speech_size(name, size, seed)
    exe = _espeak()
    version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout
    version = version.split("Data at")[0].strip()  # the data path is not the content
    spec = {"name": name, "size": list(size), "seed": seed, "version": SPEECH_VERSION}
    spec["espeak"] = version
    key = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]
    root = Path(cache) if cache is not None else cache_dir("speech")
    folder = root / f"{name}-{key}"
    if not (folder / "corpus.json").is_file():
        publish_entry(folder, "corpus.json", lambda tmp: _generate(tmp, exe, spec, progress))
    info = json.loads((folder / "corpus.json").read_text())
    voices = {split: tuple(info["voices"][split]) for split in _SPLITS}
    paths = [folder / f"{split}.tsv" for split in _SPLITS]
    return SpeechCorpus(folder, *paths, folder / "utterances.tsv", voices)


def _espeak() -> str:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise UserError(MISSING_ESPEAK)
    return exe


@dataclass(frozen=True)
class _Utterance:
    split: str
    path: str
    text: str
    voice: str
    rate: int
    pitch: int
    gap: int
    lead: float
    trail: float
    noise: str
    snr_db: float
    peak_db: float
    sample_rate: int
    channels: int
    format: str
    seed: int


def _plan(spec: dict) -> list[_Utterance]:
    """Every utterance's text, voice and processing, drawn from the seed alone."""
    texts = speech_texts(spec["name"], tuple(spec["size"]), spec["seed"])
    plan = []
    for split, split_texts in zip(_SPLITS, texts, strict=True):
        rng = random.Random(f"{spec['name']}-{spec['seed']}-{split}-voices")
        variants = SPEECH_VARIANTS[split]
        for i, text in enumerate(split_texts):
            rate, channels, fmt = _FORMATS.get(i % 20, (SPEECH_SAMPLE_RATE, 1, "WAV"))
            voice = f"{rng.choice(SPEECH_ACCENTS)}+{rng.choice(variants)}"
            plan.append(
                _Utterance(
                    split,
                    f"{split}/{i:06d}.{fmt.lower()}",
                    text,
                    voice,
                    rate=rng.randint(120, 200),
                    pitch=rng.randint(20, 80),
                    gap=rng.randint(0, 4),
                    lead=round(rng.uniform(0.05, 0.4), 3),
                    trail=round(rng.uniform(0.05, 0.4), 3),
                    noise=rng.choice(("white", "pink", "brown")),
                    snr_db=round(rng.uniform(20, 40), 1),
                    peak_db=rng.uniform(-20, -1),
                    sample_rate=rate,
                    channels=channels,
                    format=fmt,
                    seed=rng.getrandbits(63),
                )
            )
    return plan


def _generate(folder: Path, exe: str, spec: dict, progress: bool) -> None:
    plan = _plan(spec)
    for split in _SPLITS:
        (folder / split).mkdir()
    pool = ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1))
    try:
        done = pool.map(lambda u: _synthesise(folder, exe, u), plan)
        if progress:
            from tqdm import tqdm

            done = tqdm(done, total=len(plan), desc=f"synthesising {spec['name']}", unit="utt")
        for _ in done:
            pass
    finally:  # after a failure, drop the utterances not yet started
        pool.shutdown(cancel_futures=True)
    rows = ["\t".join(_COLUMNS)]
    rows += ["\t".join(str(getattr(u, c)) for c in _COLUMNS) for u in plan]
    (folder / "utterances.tsv").write_text("\n".join(rows) + "\n")
    for split in _SPLITS:
        lines = [f"{u.path}\t{u.text}\n" for u in plan if u.split == split]
        (folder / f"{split}.tsv").write_text("".join(lines))
    voices = {s: sorted({u.voice for u in plan if u.split == s}) for s in _SPLITS}
    (folder / "corpus.json").write_text(json.dumps({**spec, "voices": voices}, indent=1))


def _synthesise(folder: Path, exe: str, u: _Utterance) -> None:
    """Speaks one utterance with espeak-ng, adds silence, noise and level, writes the file."""
    import soundfile  # the speech extra's, like scipy
    from scipy.signal import resample_poly

    command = [exe, "-v", u.voice, "-s", str(u.rate), "-p", str(u.pitch), "-g", str(u.gap)]
    run = subprocess.run([*command, "--stdout", u.text], capture_output=True, timeout=120)
    if run.returncode != 0 or len(run.stdout) <= 44:
        reason = run.stderr.decode(errors="replace").strip().splitlines()[:1] or ["no audio"]
        raise UserError(f"espeak-ng -v {u.voice} failed (exit {run.returncode}): {reason[0]}")
    speech, espeak_rate = soundfile.read(io.BytesIO(run.stdout), dtype="float64")
    voiced = np.flatnonzero(np.abs(speech) > 2e-4)  # espeak-ng's own silence is exact zeros
    speech = speech[voiced[0] : voiced[-1] + 1] if len(voiced) else speech
    rate, g = u.sample_rate, math.gcd(u.sample_rate, espeak_rate)
    if rate != espeak_rate:
        speech = resample_poly(speech, rate // g, espeak_rate // g)
    speech *= 10 ** (u.peak_db / 20) / max(np.abs(speech).max(), 1e-9)
    lead, trail = np.zeros(round(u.lead * rate)), np.zeros(round(u.trail * rate))
    clean = np.concatenate([lead, speech, trail])
    rms = np.sqrt(np.mean(speech**2)) * 10 ** (-u.snr_db / 20)  # the noise's, for the SNR
    rng = np.random.default_rng(u.seed)
    channels = [clean + _noise(rng, u.noise, len(clean), rate) * rms]
    if u.channels == 2:  # a quieter second microphone with its own noise
        channels.append(0.7 * clean + _noise(rng, u.noise, len(clean), rate) * rms)
    audio = np.clip(np.stack(channels, axis=1), -1, 1)  # (N, C)
    soundfile.write(folder / u.path, audio, rate, subtype="PCM_16", format=u.format)


def _noise(rng: np.random.Generator, colour: str, n: int, rate: int) -> np.ndarray:
    """Unit-RMS noise of ``n`` samples: white, pink (power 1/f) or brown (1/f²), flat below
    50 Hz so that the SNR counts audible noise, not a drift."""
    if colour == "white":
        noise = rng.standard_normal(n)
    else:  # shaped in the frequency domain, on a length the FFT is fast for
        from scipy.fft import next_fast_len

        size = next_fast_len(n, real=True)
        spectrum = np.fft.rfft(rng.standard_normal(size))
        f = np.maximum(np.arange(len(spectrum)), size * 50 / rate)
        spectrum /= f ** (0.5 if colour == "pink" else 1.0)
        noise = np.fft.irfft(spectrum, size)[:n]
    return noise / max(np.sqrt(np.mean(noise**2)), 1e-12)


__all__ = [
    "DEFAULT_SPEECH",
    "MISSING_ESPEAK",
    "POCKETSPHINX_DATA",
    "SPEECH_ACCENTS",
    "SPEECH_BUILTIN",
    "SPEECH_CHARS",
    "SPEECH_SAMPLE_RATE",
    "SPEECH_SIZES",
    "SPEECH_VARIANTS",
    "SPEECH_VERSION",
    "SpeechCorpus",
    "builtin_speech",
    "espeak_available",
    "pocketsphinx_testdata",
    "speech_texts",
]
