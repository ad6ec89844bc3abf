"""Subword tokenizer: a SentencePiece BPE or unigram model, lines as ``<eos>``.

SentencePiece (Kudo & Richardson 2018) normalises the text (NFKC, runs of whitespace to one space,
no space at the ends of a line) and splits it into pieces, ``▁`` marking a word start. Its model
is a protobuf; lstmkit keeps its bytes and saves them as ``tokenizer.model``.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import sentencepiece as spm

from lstmkit.errors import UserError
from lstmkit.tokenizers.base import (
    BOS_ID,
    EOS_ID,
    PAD_ID,
    SPECIAL_TOKENS,
    UNK_ID,
    Tokenizer,
    check_id,
    check_ids,
    check_vocab_size,
    iter_texts,
)
from lstmkit.tokenizers.files import MODEL_LIMIT, read_inside

MODEL_FILE = "tokenizer.model"
INPUT_SENTENCE_SIZE = 1_000_000  # SentencePiece's advice for large corpora
SAMPLING_SEED = 0
MIN_SENTENCES = 100  # SentencePiece refuses a sample of 100 lines or fewer
SUBWORD_KINDS = ("bpe", "unigram")
_TOO_SMALL = re.compile(r"smaller than required_chars\. (\d+) vs (\d+)")


class SentencePieceTokenizer(Tokenizer, kinds=SUBWORD_KINDS):
    """Subword pieces from a SentencePiece model, BPE or unigram; every ``"\\n"`` is an ``<eos>``.

    Each line is encoded on its own and the lines are joined by ``<eos>``, as with
    :class:`WordTokenizer`; :meth:`decode` writes ``<eos>`` back as ``"\\n"``, drops ``<pad>`` and
    ``<bos>`` and writes ``<unk>`` as ``"<unk>"``. ``decode(encode(s)) == s`` for a text of known
    characters that SentencePiece's normalisation leaves as it is.

    Args:
        model: the serialized SentencePiece model (protobuf bytes) with the pieces
            ``<pad> <unk> <bos> <eos>`` at ids 0-3, as :meth:`train` makes it.
        kind: ``"bpe"`` or ``"unigram"``, the algorithm that trained ``model``.

    Raises:
        UserError: naming ``model`` if it does not parse or its special pieces differ, ``kind``
            if it is not a subword kind.

    Example:
        >>> tok = SentencePieceTokenizer.train(["low lower lowest", "new newer"], vocab_size=30)
        >>> tok.decode(tok.encode("lower new\\nlow")) == "lower new\\nlow"
        True
    """

    def __init__(self, model: bytes, kind: str = "bpe") -> None:
        if kind not in SUBWORD_KINDS:
            raise UserError(f"kind: expected one of {', '.join(SUBWORD_KINDS)}, got {kind!r}")
        self.kind = kind
        self._model = bytes(model)
        self._sp = _processor(self._model, "model")

    @classmethod
    def train(
        cls,
        texts: str | Iterable[str],
        *,
        kind: str = "bpe",
        vocab_size: int = 8000,
        input_sentence_size: int = INPUT_SENTENCE_SIZE,
    ) -> SentencePieceTokenizer:
        """Train a ``kind`` model of about ``vocab_size`` pieces on the lines of ``texts``.

        The lines are read one at a time (``texts`` may be an iterator over a file's pieces);
        SentencePiece keeps at most ``input_sentence_size`` of them, a uniform sample (reservoir
        sampling, seeded) when there are more, so memory is bounded whatever the corpus's size.
        Training is deterministic (one thread, a fixed seed): the same text and options give the
        same model bytes.

        Args:
            texts: one string or an iterable of strings, split into lines at ``"\\n"``.
            kind: ``"bpe"`` or ``"unigram"`` (Kudo 2018).
            vocab_size: the number of pieces, the 4 special tokens included; fewer when the text
                is too small to fill it. Every character of the text gets a piece, so it must be
                at least 4 + the number of distinct characters.
            input_sentence_size: the most non-blank lines trained on (default 1,000,000;
                above 100).

        Raises:
            UserError: naming ``kind``, ``vocab_size`` (also when too small for the text's
                characters), ``input_sentence_size`` or ``texts`` (without any non-blank line).
        """
        if kind not in SUBWORD_KINDS:
            raise UserError(f"kind: expected one of {', '.join(SUBWORD_KINDS)}, got {kind!r}")
        if vocab_size is None:
            raise UserError("vocab_size: expected an integer, got None (subwords need a size)")
        check_vocab_size(vocab_size)
        size = input_sentence_size
        if isinstance(size, bool) or not isinstance(size, int) or size <= MIN_SENTENCES:
            raise UserError(
                f"input_sentence_size: expected an integer above {MIN_SENTENCES} "
                f"(SentencePiece's least), got {size!r}"
            )
        lines = _Lines(texts)
        if lines.first is None:
            raise lines.error or UserError(
                "texts: expected some text to learn subwords from, got only blank text"
            )
        model = io.BytesIO()
        spm.set_random_generator_seed(SAMPLING_SEED)  # which lines a sample keeps
        try:
            spm.SentencePieceTrainer.train(
                sentence_iterator=iter(lines),
                model_writer=model,
                model_type=kind,
                vocab_size=vocab_size,
                input_sentence_size=size,
                shuffle_input_sentence=True,  # a uniform sample, not the first lines
                hard_vocab_limit=False,  # a small text gives fewer pieces instead of an error
                character_coverage=1.0,
                # SentencePiece promises no reproducibility with several threads (0.2.3 happened
                # to give equal bytes); the model records the count, so it is fixed here too.
                num_threads=1,
                max_sentence_length=1 << 20,  # the default 4192 bytes silently drops long lines
                pad_id=PAD_ID,
                unk_id=UNK_ID,
                bos_id=BOS_ID,
                eos_id=EOS_ID,
                pad_piece="<pad>",
                unk_piece="<unk>",
                bos_piece="<bos>",
                eos_piece="<eos>",
                unk_surface="<unk>",  # what decode writes, as the char and word tokenizers do
                minloglevel=2,  # the trainer logs every step to stderr otherwise
            )
        except RuntimeError as error:
            raise lines.error or _training_error(error, kind, vocab_size) from None
        if lines.error is not None:  # the text's reader failed (a file changed since it was read)
            raise lines.error
        return cls(model.getvalue(), kind)

    @property
    def model(self) -> bytes:
        """The serialized SentencePiece model (protobuf), as saved in ``tokenizer.model``."""
        return self._model

    @property
    def vocab_size(self) -> int:
        return self._sp.get_piece_size()

    def encode(self, text: str) -> list[int]:
        ids: list[int] = []
        for line in self._encode_lines(text.split("\n")):  # one call: SentencePiece loops in C++
            ids += line
            ids.append(EOS_ID)
        ids.pop()  # the last line has no "\n" after it
        return ids

    def encode_with_unknowns(self, text: str) -> tuple[list[int], list[str]]:
        lines = text.split("\n")
        unknowns: dict[str, None] = {}
        pieces_of_lines = self._encode_lines(lines, out_type=str)
        for ids, pieces in zip(self._encode_lines(lines), pieces_of_lines, strict=True):
            for id, piece in zip(ids, pieces, strict=True):
                if id == self.unk_id:  # the piece is the run of unknown characters itself
                    unknowns.update(dict.fromkeys(piece.replace("▁", "")))
        return self.encode(text), list(unknowns)

    def _encode_lines(self, lines: list[str], **options: Any) -> list:
        try:
            return self._sp.encode(lines, **options)
        except TypeError:  # SentencePiece's message for a lone surrogate (undecodable bytes)
            bad = next((c for line in lines for c in line if "\ud800" <= c <= "\udfff"), None)
            if bad is None:
                raise
            raise UserError(
                f"text: expected Unicode text, got a lone surrogate U+{ord(bad):04X} "
                "(bytes that are not UTF-8?)"
            ) from None

    def decode(self, ids: Sequence[int]) -> str:
        check_ids(ids, self.vocab_size)
        lines: list[list[int]] = [[]]
        for i in ids:
            if i == EOS_ID:
                lines.append([])
            else:
                lines[-1].append(int(i))
        return "\n".join(self._sp.decode(lines))

    def token_to_id(self, token: str) -> int:
        return self._sp.piece_to_id(token)

    def id_to_token(self, id: int) -> str:
        check_id(id, self.vocab_size)
        return self._sp.id_to_piece(id)

    def _contents(self) -> tuple[dict[str, Any], dict[str, bytes]]:
        settings = {
            "model_file": MODEL_FILE,
            "model_sha256": hashlib.sha256(self._model).hexdigest(),
            "vocab_size": self.vocab_size,
        }
        return settings, {MODEL_FILE: self._model}

    @classmethod
    def _read(cls, config: dict[str, Any], path: Path) -> SentencePieceTokenizer:
        name = config.get("model_file")
        if not isinstance(name, str) or not name or Path(name).name != name:
            raise UserError(f"{path}: model_file: expected a file name, got {name!r}")
        model_path = path.parent / name
        if not os.path.lexists(model_path):
            raise UserError(
                f"{model_path}: expected the SentencePiece model named in {path.name}, "
                f"got no such file"
            )
        model = read_inside(model_path, path.parent, MODEL_LIMIT)
        # A truncated or swapped model can still parse; the digest catches it.
        recorded, actual = config.get("model_sha256"), hashlib.sha256(model).hexdigest()
        if recorded != actual:
            raise UserError(
                f"{model_path}: expected the model whose sha256 {path.name} records "
                f"({recorded!r}), got a file with sha256 {actual!r}"
            )
        _processor(model, str(model_path))
        return cls(model, config["kind"])


class _Lines:
    """The non-blank lines of ``texts``, one at a time, for SentencePiece's trainer.

    An error while reading (a UserError from a file's reader, a text that is not a string) would
    reach the caller as SentencePiece's RuntimeError with a traceback in its text: it is kept in
    ``error`` instead, the lines end there, and ``train`` raises it.
    """

    def __init__(self, texts: str | Iterable[str]) -> None:
        self._lines = (
            line for text in iter_texts(texts) for line in text.split("\n") if line.strip()
        )
        self.error: UserError | None = None
        self.first = self._next()

    def _next(self) -> str | None:
        try:
            return next(self._lines, None)
        except UserError as error:
            self.error = error
            return None

    def __iter__(self) -> Iterator[str]:
        line = self.first
        while line is not None:
            yield line
            line = self._next()


def _processor(model: bytes, where: str) -> spm.SentencePieceProcessor:
    """A processor for ``model``, checked to have lstmkit's special pieces at ids 0-3."""
    try:
        sp = spm.SentencePieceProcessor(model_proto=model)
    except RuntimeError:
        raise UserError(
            f"{where}: expected a SentencePiece model (protobuf), got {len(model)} bytes that "
            f"do not parse"
        ) from None
    size = sp.get_piece_size()
    specials = tuple(sp.id_to_piece(i) for i in range(min(size, len(SPECIAL_TOKENS))))
    ids = (sp.pad_id(), sp.unk_id(), sp.bos_id(), sp.eos_id())
    if specials != SPECIAL_TOKENS or ids != (PAD_ID, UNK_ID, BOS_ID, EOS_ID):
        raise UserError(
            f"{where}: expected the pieces {list(SPECIAL_TOKENS)} at ids 0-3 (train with "
            f"lstmkit), got {list(specials)}"
        )
    return sp


def _training_error(error: RuntimeError, kind: str, vocab_size: int) -> UserError:
    """SentencePiece's failure, said in lstmkit's terms when it is a known one."""
    too_small = _TOO_SMALL.search(str(error))
    if too_small:
        return UserError(
            f"vocab_size: expected at least {too_small.group(2)} for this text (the "
            f"{len(SPECIAL_TOKENS)} special tokens and a piece per distinct character), "
            f"got {vocab_size}"
        )
    return UserError(f"tokenizer: SentencePiece could not train a {kind} model: {error}")
