"""What a speech run trains and is scored on: train, validation and test utterances, from a
manifest or folder the user has, or from a built-in synthesised corpus.

Example:
    >>> is_builtin("digits"), is_builtin(None), is_builtin("clips/train.tsv")
    (True, True, False)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lstmkit.data.speech_builtin import SPEECH_BUILTIN, builtin_speech
from lstmkit.data.utterances import Utterances, load_utterances, split_utterances
from lstmkit.errors import UserError


@dataclass(frozen=True)
class SpeechData:
    """Train, validation and test utterances (test may be empty) and where they came from.

    Attributes:
        train, valid, test: the utterances.
        spec: how to read them again (``load_speech``'s arguments), recorded in the run's
            config so that ``--resume`` reads the same data.
    """

    train: Utterances
    valid: Utterances
    test: Utterances | None
    spec: dict

    def fingerprint(self) -> str:
        """sha256 of the training manifests' bytes (checked when a run is resumed)."""
        return self.train.fingerprint()


def is_builtin(data: str | Path | None) -> bool:
    """Whether ``data`` names a built-in corpus (and no file or folder of that name exists)."""
    return data is None or (str(data) in SPEECH_BUILTIN and not Path(data).exists())


def load_speech(
    data: str | Path | None = None,
    valid: str | Path | None = None,
    test: str | Path | None = None,
    *,
    seed: int = 0,
    valid_fraction: float = 0.05,
    test_fraction: float = 0.05,
    progress: bool = False,
) -> SpeechData:
    """Reads a run's utterances.

    Args:
        data: a manifest (TSV/CSV/JSON lines), a folder of audio files with same-named ``.txt``
            transcripts, or a built-in corpus's name (None: the default one), whose own
            train/valid/test splits are used (their test voices are unseen in training).
        valid, test: manifests or folders; without them the shares ``valid_fraction`` and
            ``test_fraction`` of ``data`` are split off, seeded by ``seed``.
        progress: a progress bar while a built-in corpus is synthesised (first use only).

    Raises:
        UserError: naming the file, line or option that cannot be used.
    """
    spec = {
        "data": None if data is None else str(data),
        "valid": None if valid is None else str(valid),
        "test": None if test is None else str(test),
        "seed": seed,
        "valid_fraction": valid_fraction,
        "test_fraction": test_fraction,
    }
    if is_builtin(data):
        if valid is not None or test is not None:
            raise UserError(
                "valid, test: a built-in corpus brings its own splits; give `data` a manifest "
                "to use your own"
            )
        corpus = builtin_speech(*([] if data is None else [str(data)]), progress=progress)
        return SpeechData(
            load_utterances(corpus.train),
            load_utterances(corpus.valid),
            load_utterances(corpus.test),
            spec,
        )
    utterances = load_utterances(data)
    given_valid = None if valid is None else load_utterances(valid)
    given_test = None if test is None else load_utterances(test)
    train, split_valid, split_test = split_utterances(
        utterances,
        valid_fraction=0.0 if given_valid is not None else valid_fraction,
        test_fraction=0.0 if given_test is not None else test_fraction,
        seed=seed,
    )
    valid_part = given_valid if given_valid is not None else split_valid
    if valid_part is None or len(valid_part) == 0:
        raise UserError(
            f"{data}: expected enough utterances to split off validation ones "
            f"({len(utterances)} found); give `valid`"
        )
    return SpeechData(train, valid_part, given_test if given_test is not None else split_test, spec)


def fit_data(
    train: str | Path | Utterances | SpeechData | None,
    valid: str | Path | Utterances | None,
    progress: bool = False,
) -> SpeechData:
    """The utterances of :meth:`~lstmkit.speech.SpeechRecognizer.fit`'s ``train`` and
    ``valid``, whichever of their forms it is given.

    Args:
        train: a manifest, folder or built-in corpus's name (read by :func:`load_speech`),
            Utterances (5% split off for validation when ``valid`` is None) or SpeechData
            (taken as it is).
        valid: a manifest, folder or Utterances; None: the corpus's own, or split off.
        progress: a progress bar while a built-in corpus is synthesised.

    Raises:
        UserError: naming the file, line or option that cannot be used.
    """
    if isinstance(train, SpeechData):
        return train
    if isinstance(train, Utterances):
        valid_part = load_utterances(valid) if isinstance(valid, str | Path) else valid
        if valid_part is None:
            train, valid_part, _ = split_utterances(train, valid_fraction=0.05, test_fraction=0.0)
        return SpeechData(train, valid_part, None, {})
    data = load_speech(
        train, valid if not isinstance(valid, Utterances) else None, progress=progress
    )
    if isinstance(valid, Utterances):
        data = SpeechData(data.train, valid, data.test, data.spec)
    return data


__all__ = ["SpeechData", "fit_data", "is_builtin", "load_speech"]
