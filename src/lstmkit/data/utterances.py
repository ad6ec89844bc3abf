"""Utterances a user already has: audio files and their transcripts, from a manifest or a folder.

A manifest (:func:`read_manifest`) is a table with one utterance a row: TSV or CSV, with a
header naming a path column and a text column (Common Voice's ``path`` and ``sentence``) or
without one (``path<TAB>text``), or JSON lines as NeMo writes them (the formats are
:mod:`lstmkit.data.manifests`'s).

Audio paths are relative to the manifest's folder, and a path not found there is looked for in
its ``clips/`` folder, where Common Voice keeps its audio. A folder of audio files, each with a
same-named ``.txt`` transcript beside it, is read by :func:`read_audio_folder`;
:func:`load_utterances` picks by the path. Only the files' existence is checked here; the audio
is read when its features are computed.

Example:
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     (Path(folder) / "clips").mkdir()
    ...     _ = (Path(folder) / "clips" / "a.mp3").write_bytes(b"")
    ...     manifest = Path(folder) / "train.tsv"
    ...     _ = manifest.write_text('client_id\\tpath\\tsentence\\nc1\\ta.mp3\\t"Hi," she said.\\n')
    ...     utterances = read_manifest(manifest)
    ...     utterances.texts, utterances.paths[0].parent.name, utterances.where[0][-11:]
    (['"Hi," she said.'], 'clips', 'train.tsv:2')
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lstmkit.data.audio import AUDIO_SUFFIXES
from lstmkit.data.batching import split_indices
from lstmkit.data.config_file import read_text
from lstmkit.data.manifests import PATH_COLUMNS, TEXT_COLUMNS, manifest_rows
from lstmkit.errors import UserError

MAX_MANIFEST_BYTES = 1 << 30  # Common Voice's largest TSV (English, all clips) is ~300 MB
MAX_TRANSCRIPT_BYTES = 1 << 20  # a .txt beside an audio file: one utterance's words


@dataclass(frozen=True)
class Utterances:
    """Audio files and their transcripts, ``texts[i]`` spoken in ``paths[i]``.

    Attributes:
        paths: the audio files.
        texts: their transcripts, as read (stripped of surrounding spaces).
        where: where each was given, for messages: ``"data/train.tsv:12"`` (a manifest's file and
            line) or the audio file's path (a folder).
        sources: the manifests or folders they were read from.
        digest: :meth:`fingerprint`'s value, computed by the readers from what they read.

    Raises:
        UserError: ``paths``, ``texts`` and ``where`` differ in length.

    Example:
        >>> utts = Utterances([Path("a.wav"), Path("b.wav")], ["hi", "yes"], ["m:1", "m:2"], ["m"])
        >>> len(utts), utts[1:].texts, utts.subset([1, 0]).where, utts[0]
        (2, ['yes'], ['m:2', 'm:1'], (PosixPath('a.wav'), 'hi'))
    """

    paths: list[Path]
    texts: list[str]
    where: list[str]
    sources: list[str]
    digest: str = field(default="", repr=False, compare=False)

    def __post_init__(self) -> None:
        if not len(self.paths) == len(self.texts) == len(self.where):
            raise UserError(
                "Utterances: expected as many texts and places as paths, got "
                f"{len(self.paths)} paths, {len(self.texts)} texts, {len(self.where)} places"
            )

    def __len__(self) -> int:
        return len(self.paths)

    def __iter__(self) -> Iterator[tuple[Path, str]]:
        return zip(self.paths, self.texts, strict=True)

    def __getitem__(self, index: int | slice) -> Utterances | tuple[Path, str]:
        """A slice gives Utterances (the same sources); an integer the ``(path, text)`` pair."""
        if isinstance(index, slice):
            return Utterances(
                self.paths[index], self.texts[index], self.where[index], self.sources, self.digest
            )
        return self.paths[index], self.texts[index]

    def subset(self, indices: Sequence[int]) -> Utterances:
        """The utterances at ``indices``, in that order (the same sources)."""
        return Utterances(
            [self.paths[i] for i in indices],
            [self.texts[i] for i in indices],
            [self.where[i] for i in indices],
            self.sources,
            self.digest,
        )

    def fingerprint(self) -> str:
        """sha256 (hex) of the sources as read, for checking that a resumed run reads the same
        data.

        A manifest counts with its bytes; a folder with its audio files' relative paths and
        sizes and its transcripts' bytes (the audio itself is not read: a folder may hold hours).
        A slice or subset has the fingerprint of the data it was taken from; Utterances made by
        hand (no ``digest``) hash their sources when asked.

        Raises:
            UserError: a source is gone.
        """
        return self.digest or _fingerprint(self.sources)


def _fingerprint(sources: list[str], read: dict[str, bytes] | None = None) -> str:
    """sha256 of sources: manifests (their bytes, from ``read`` when given) and folders."""
    digest = hashlib.sha256()
    for source in sources:
        path = Path(source)
        digest.update(b"source\0")
        if read is not None and source in read:
            digest.update(b"%d\0" % len(read[source]))
            digest.update(read[source])
        elif path.is_dir():
            for audio in _audio_files(path):
                name = audio.relative_to(path).as_posix().encode()
                digest.update(b"%s\0%d\0" % (name, audio.stat().st_size))
                _update(digest, audio.with_suffix(".txt"))
        elif path.is_file():
            _update(digest, path)
        else:
            raise UserError(f"{source}: no such file or folder (the utterances' source)")
    return digest.hexdigest()


def read_manifest(path: str | os.PathLike) -> Utterances:
    """Utterances from a TSV, CSV or JSON-lines manifest (:mod:`lstmkit.data.manifests`).

    Args:
        path: the manifest, UTF-8, at most :data:`MAX_MANIFEST_BYTES`.

    Returns:
        The utterances in file order; blank lines are skipped.

    Raises:
        UserError: the manifest is missing, not a regular file, too large or not UTF-8; it has
            no header naming the needed columns and rows that are not ``path<TAB>text`` (the
            columns found and those expected); a row's audio file is missing or a folder, or its
            transcript is empty, or it has another number of columns than the header (naming
            file:line); no rows.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     _ = (Path(folder) / "a.wav").write_bytes(b"")
        ...     manifest = Path(folder) / "train.csv"
        ...     _ = manifest.write_text('file,transcript\\na.wav,"yes, no"\\n')
        ...     read_manifest(manifest).texts
        ['yes, no']
    """
    path = Path(path)
    raw = read_text(path, limit=MAX_MANIFEST_BYTES)
    paths, texts, where = [], [], []
    for line, cell, transcript, hint in manifest_rows(path, raw):
        place = f"{path}:{line}"
        paths.append(_audio_path(cell, path.parent, place, hint))
        if not transcript.strip():
            raise UserError(f"{place}: expected a transcript, got {transcript!r}")
        texts.append(transcript.strip())
        where.append(place)
    if not paths:
        raise UserError(f"{path}: expected at least one utterance, got no rows")
    sources = [str(path)]
    return Utterances(
        paths, texts, where, sources, _fingerprint(sources, {sources[0]: raw.encode()})
    )


def _audio_path(cell: str, folder: Path, where: str, hint: str = "") -> Path:
    """The audio file a manifest row names: beside the manifest, else in its ``clips/``."""
    name = cell.strip()
    if not name:
        raise UserError(f"{where}: expected an audio file path, got an empty field")
    given = Path(name)
    candidates = [given] if given.is_absolute() else [folder / given, folder / "clips" / given]
    for candidate in candidates:
        try:
            mode = candidate.stat().st_mode
        except OSError:
            continue
        if stat.S_ISREG(mode):
            return candidate
        what = "a folder" if stat.S_ISDIR(mode) else "a special file (FIFO, device, socket)"
        raise UserError(f"{where}: expected an audio file, got {what}: {candidate}")
    looked = " or ".join(str(c) for c in candidates)
    raise UserError(f"{where}: audio file {name} not found (looked for {looked}){hint}")


def read_audio_folder(folder: str | os.PathLike) -> Utterances:
    """Utterances from a folder: every audio file with a same-named ``.txt`` transcript beside it.

    Audio files are those ending in :data:`~lstmkit.data.audio.AUDIO_SUFFIXES` (any case),
    found recursively, sorted by their path inside the folder; hidden files and folders are
    skipped. A transcript is the ``.txt`` file's text, stripped.

    Raises:
        UserError: ``folder`` is not a folder; it holds no audio file; an audio file has no
            ``.txt`` beside it, or an empty one (naming it); a transcript is not UTF-8 or over
            :data:`MAX_TRANSCRIPT_BYTES`.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     (Path(folder) / "spk1").mkdir()
        ...     _ = (Path(folder) / "spk1" / "a.flac").write_bytes(b"")
        ...     _ = (Path(folder) / "spk1" / "a.txt").write_text("hello there\\n")
        ...     read_audio_folder(folder).texts
        ['hello there']
    """
    root = Path(folder)
    if not root.is_dir():
        raise UserError(f"{root}: expected a folder of audio files, got no such folder")
    audio = _audio_files(root)
    if not audio:
        raise UserError(
            f"{root}: expected audio files ({', '.join(AUDIO_SUFFIXES)}) in the folder, got none "
            "(hidden ones are skipped)"
        )
    texts = []
    for file in audio:
        transcript = file.with_suffix(".txt")
        if not transcript.is_file():
            raise UserError(f"{file}: expected a transcript {transcript.name} beside it, got none")
        text = read_text(transcript, limit=MAX_TRANSCRIPT_BYTES).removeprefix("\ufeff").strip()
        if not text:
            raise UserError(f"{transcript}: expected the words spoken in {file.name}, got none")
        texts.append(text)
    sources = [str(root)]
    return Utterances(audio, texts, [str(file) for file in audio], sources, _fingerprint(sources))


def _audio_files(root: Path) -> list[Path]:
    """Non-hidden audio files under ``root``, sorted by their path relative to it."""
    found = []
    for folder, subfolders, names in os.walk(root):
        subfolders[:] = [name for name in subfolders if not name.startswith(".")]
        found += [
            Path(folder, name)
            for name in names
            if not name.startswith(".") and name.lower().endswith(AUDIO_SUFFIXES)
        ]
    return sorted((f for f in found if f.is_file()), key=lambda f: f.relative_to(root).parts)


def _update(digest, file: Path) -> None:
    """Adds a file's size and bytes to ``digest``, read in pieces."""
    with file.open("rb") as f:
        digest.update(b"%d\0" % os.fstat(f.fileno()).st_size)
        while piece := f.read(1 << 20):
            digest.update(piece)


def load_utterances(path: str | os.PathLike) -> Utterances:
    """Utterances from a folder (:func:`read_audio_folder`) or a manifest (:func:`read_manifest`).

    Raises:
        UserError: the path does not exist, or as the reader it picks.
    """
    path = Path(path)
    if path.is_dir():
        return read_audio_folder(path)
    if not path.exists():
        raise UserError(f"{path}: no such manifest or folder")
    return read_manifest(path)


def split_utterances(
    utterances: Utterances, valid_fraction: float = 0.05, test_fraction: float = 0.0, seed: int = 0
) -> tuple[Utterances, Utterances, Utterances]:
    """Split utterances at random into train, valid and test, the same way on every machine.

    Each part gets ``round(fraction * n)`` utterances, at least one when its fraction is above 0
    and there are at least 3 utterances, and keeps the input's order.

    Args:
        utterances: the utterances.
        valid_fraction, test_fraction: the shares for validation and testing.
        seed: seed of the permutation (``random.Random(seed)``; the global RNG is left alone).

    Returns:
        ``(train, valid, test)``; a part whose fraction is 0 is empty.

    Raises:
        UserError: a fraction outside [0, 1), fractions summing to 1 or more, or no utterance
            left for training.

    Example:
        >>> paths = [Path(f"{i}.wav") for i in range(5)]
        >>> utts = Utterances(paths, list("abcde"), list("12345"), [])
        >>> train, valid, test = split_utterances(utts, 0.2, 0.2, seed=0)
        >>> len(train), len(valid), len(test), sorted(train.texts + valid.texts + test.texts)
        (3, 1, 1, ['a', 'b', 'c', 'd', 'e'])
    """
    parts = split_indices(len(utterances), valid_fraction, test_fraction, seed, "utterances")
    return tuple(utterances.subset(part) for part in parts)


__all__ = [
    "MAX_MANIFEST_BYTES",
    "MAX_TRANSCRIPT_BYTES",
    "PATH_COLUMNS",
    "TEXT_COLUMNS",
    "Utterances",
    "load_utterances",
    "read_audio_folder",
    "read_manifest",
    "split_utterances",
]
