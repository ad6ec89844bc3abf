"""Real recordings to report on: Debian's ``pocketsphinx-testdata``, as a manifest.

The built-in corpora (:mod:`lstmkit.data.speech_builtin`) are synthesised, and a recogniser
trained on them is best also measured on people speaking. Debian's ``pocketsphinx-testdata``
package holds ten such recordings with their transcripts; :func:`pocketsphinx_testdata` copies
them into the cache beside a manifest that :func:`~lstmkit.data.utterances.read_manifest` reads.
Nothing is downloaded: without the package there is no manifest.

Example:
    >>> pocketsphinx_testdata(source=Path("/nonexistent")) is None
    True
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from lstmkit.data.cache import cache_dir, publish_entry
from lstmkit.errors import UserError

POCKETSPHINX_DATA = Path("/usr/share/pocketsphinx/test/data")
# Sphinx transcription lines: "<s> ten of clubs </s> (001)"; the id names the wav beside it.
_SPHINX_LINE = re.compile(r"^\s*(?:<s>)?(?P<text>.*?)(?:</s>)?\s*\((?P<id>[\w.-]+)\)\s*$")


def pocketsphinx_testdata(
    *, cache: Path | None = None, source: Path = POCKETSPHINX_DATA
) -> Path | None:
    """A manifest of the real recordings in Debian's ``pocketsphinx-testdata``, or ``None``.

    The package holds five card-game commands (``cards/``: ``four queen of clubs``) and five
    sentences read from an audiobook (``librivox/``), 16 kHz mono WAV. They are copied into
    ``cache / "pocketsphinx-testdata-v1"`` beside a manifest (``path<TAB>text``, the transcripts
    lower-cased, punctuation other than apostrophes removed): real speech to report on, too
    little to train on.

    Args:
        cache: the folder that holds built corpora (default ``cache_dir("speech")``).
        source: the package's data folder (default :data:`POCKETSPHINX_DATA`).

    Returns:
        The manifest's path, or ``None`` when ``source`` has none of the recordings.

    Raises:
        UserError: a transcription line that is not ``<s> words </s> (id)``, or an id without
            its wav file.

    Example:
        >>> pocketsphinx_testdata(source=Path("/nonexistent")) is None
        True
    """
    source = Path(source)
    lists = [(source / "cards", "cards.transcription"), (source / "librivox", "transcription")]
    lists = [(where, where / name) for where, name in lists if (where / name).is_file()]
    if not lists:
        return None
    root = Path(cache) if cache is not None else cache_dir("speech")
    folder = root / "pocketsphinx-testdata-v1"
    if not (folder / "manifest.tsv").is_file():
        publish_entry(folder, "manifest.tsv", lambda tmp: _copy_sphinx(tmp, lists))
    return folder / "manifest.tsv"


def _copy_sphinx(folder: Path, lists: list[tuple[Path, Path]]) -> None:
    rows = []
    for audio_dir, transcription in lists:
        (folder / audio_dir.name).mkdir()
        lines = transcription.read_text(encoding="utf-8", errors="replace").splitlines()
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            where, match = f"{transcription}:{number}", _SPHINX_LINE.match(line)
            text = match and " ".join(re.sub(r"[^a-z' ]+", " ", match["text"].lower()).split())
            if not text:
                raise UserError(f"{where}: expected '<s> words </s> (id)', got {line[:80]!r}")
            wav = audio_dir / f"{match['id']}.wav"
            if not wav.is_file():
                raise UserError(f"{where}: expected the recording {wav}, which does not exist")
            shutil.copyfile(wav, folder / audio_dir.name / wav.name)
            rows.append(f"{audio_dir.name}/{wav.name}\t{text}\n")
    (folder / "manifest.tsv").write_text("".join(rows))


__all__ = ["POCKETSPHINX_DATA", "pocketsphinx_testdata"]
