"""The sequence-to-sequence Python API: ``Seq2Seq(...).fit(pairs)``, ``translate``, ``evaluate``.

Estimator style, as :class:`lstmkit.lm.LanguageModel`: the constructor stores hyperparameters,
``fit`` trains (through the one trainer) and returns ``self``, learned state lives in attributes
ending in ``_`` (``src_tokenizer_``, ``tgt_tokenizer_``, ``model_``), and ``save``/``load`` use the
checkpoint directory format, the two tokenizers under ``tokenizer/src`` and ``tokenizer/tgt``.

The network is :class:`lstmkit.models.Seq2Seq` (encoder, bridge, decoder, attention).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from lstmkit.checkpoint import Checkpoint, build_model
from lstmkit.data import PairCorpus, Pairs, split_pairs
from lstmkit.decode import beam_search, greedy, sample
from lstmkit.decode.sampling import seeded_generator
from lstmkit.decode.stream import Stream
from lstmkit.errors import UserError
from lstmkit.models import Seq2SeqConfig, build_seq2seq
from lstmkit.nn.device import device_of
from lstmkit.seq2seq.scores import translation_scores
from lstmkit.seq2seq.stream import Seq2SeqState, seq2seq_start, seq2seq_step, seq2seq_stream
from lstmkit.seq2seq.task import Seq2SeqTask, bucketed_batches, collate
from lstmkit.tokenizers import load_tokenizer, train_tokenizer
from lstmkit.train.estimator import Estimator, check_vocabulary

METHODS = ("greedy", "beam", "sample")
RATIO_MARGIN = 1.5  # default output limit: this times the longest target/source ratio seen
SCORE_SENTENCES = 500  # validation sentences translated per epoch for BLEU/chrF/exact


class Seq2Seq(Estimator):
    """A sequence-to-sequence LSTM trained on your sentence pairs.

    Args:
        src_tokenizer, tgt_tokenizer: ``"char"``, ``"word"``, ``"bpe"`` or ``"unigram"``.
        src_vocab_size, tgt_vocab_size: the tokenizers' vocabulary sizes (None: all seen).
        joint_vocab: one tokenizer trained on both sides (``src_tokenizer``'s kind and size).
        model: :class:`~lstmkit.models.Seq2SeqConfig` fields other than the vocabulary sizes,
            over its defaults.
        batch_size: sentences per batch (bucketed by length).
        max_src_len, max_tgt_len: training pairs longer than this (tokens) are left out.
        reverse_source: read the source backwards (Sutskever et al. 2014).
        label_smoothing, teacher_forcing: see :meth:`lstmkit.models.Seq2Seq.loss`.
        optim, train: :class:`~lstmkit.train.OptimConfig` /
            :class:`~lstmkit.train.config.TrainConfig` fields;
            ``train={"monitor": "bleu"}`` selects the model on validation BLEU.

    Example:
        >>> from lstmkit.data import Pairs
        >>> pairs = Pairs(["a b", "b a", "a a"] * 10, ["x y", "y x", "x x"] * 10)
        >>> s2s = Seq2Seq("word", "word", model={"embedding_size": 8, "hidden_size": 8},
        ...               batch_size=4, train={"epochs": 1})
        >>> len(s2s.fit(pairs, valid=pairs, progress=False).translate(["a b"]))
        1
    """

    task = "seq2seq"
    network_config = Seq2SeqConfig
    _differs = "the training pairs differ from those"

    def __init__(
        self,
        src_tokenizer: str = "word",
        tgt_tokenizer: str = "word",
        src_vocab_size: int | None = None,
        tgt_vocab_size: int | None = None,
        joint_vocab: bool = False,
        model: dict | None = None,
        batch_size: int = 64,
        max_src_len: int | None = None,
        max_tgt_len: int | None = None,
        reverse_source: bool = False,
        label_smoothing: float = 0.0,
        teacher_forcing: float = 1.0,
        optim: dict | None = None,
        train: dict | None = None,
    ) -> None:
        self.src_tokenizer = src_tokenizer
        self.tgt_tokenizer = tgt_tokenizer
        self.src_vocab_size = src_vocab_size
        self.tgt_vocab_size = tgt_vocab_size
        self.joint_vocab = joint_vocab
        self.model = model
        self.batch_size = batch_size
        self.max_src_len = max_src_len
        self.max_tgt_len = max_tgt_len
        self.reverse_source = reverse_source
        self.label_smoothing = label_smoothing
        self.teacher_forcing = teacher_forcing
        self.optim = optim
        self.train = train

    # ------------------------------------------------------------------ training
    def fit(
        self,
        train: Pairs | PairCorpus,
        valid: Pairs | None = None,
        out: str | Path | None = None,
        progress: bool = True,
        resume: str | Path | None = None,
    ) -> Seq2Seq:
        """Trains the tokenizers and the model; returns self, holding the best model.

        Args:
            train: training pairs, or a :class:`~lstmkit.data.PairCorpus` (from
                :func:`~lstmkit.data.load_pairs`), whose sources the run's config records.
            valid: validation pairs; default the corpus's, or 5% split off ``train``.
            out: the run folder; default a temporary one, deleted after training.
            progress: show a progress bar.
            resume: a checkpoint (``last/``) of an earlier run to continue exactly; its
                settings are used, and of this estimator's only ``train`` (budgets).
        """
        corpus = train if isinstance(train, PairCorpus) else PairCorpus(train, None, None, {})
        pairs, valid = corpus.train, valid if valid is not None else corpus.valid
        if valid is None or len(valid) == 0:
            pairs, valid, _ = split_pairs(pairs, valid_fraction=0.05, test_fraction=0.0)
        return self._fit_run(PairCorpus(pairs, valid, None, corpus.sources), out, progress, resume)

    def _fingerprint(self, corpus: PairCorpus) -> str | None:
        return corpus.fingerprint() if corpus.sources else None

    def _resume_state(self, checkpoint: Checkpoint) -> None:
        self._load_tokenizers(checkpoint)

    def _make_task(self, corpus: PairCorpus, checkpoint: Checkpoint | None, seed: int):
        pairs, valid = corpus.train, corpus.valid
        if checkpoint is None:
            self._train_tokenizers(pairs)
        train_ids = self._keep_short(self._encode_pairs(pairs))
        self.length_ratio_ = max(len(t) / max(1, len(s)) for s, t in train_ids)
        valid_ids = self._encode_pairs(valid)
        meta = {"config": self._run_config(corpus), "files": self._files(), "seed": seed}
        return Seq2SeqTask(
            train_ids,
            valid_ids,
            self.batch_size,
            meta,
            self.label_smoothing,
            self.teacher_forcing,
            self._validation_scores(valid),
        )

    def _make_network(self):
        return build_seq2seq(self._model_config())

    def _train_tokenizers(self, pairs: Pairs) -> None:
        def options(size):
            return {} if size is None else {"vocab_size": size}

        if self.joint_vocab:
            joint = train_tokenizer(
                self.src_tokenizer, [*pairs.src, *pairs.tgt], **options(self.src_vocab_size)
            )
            self.src_tokenizer_ = self.tgt_tokenizer_ = joint
            return
        self.src_tokenizer_ = train_tokenizer(
            self.src_tokenizer, [s + "\n" for s in pairs.src], **options(self.src_vocab_size)
        )
        self.tgt_tokenizer_ = train_tokenizer(
            self.tgt_tokenizer, [t + "\n" for t in pairs.tgt], **options(self.tgt_vocab_size)
        )

    def _check_settings(self) -> None:
        super()._check_settings()
        for name in ("max_src_len", "max_tgt_len"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or value < 1):
                raise UserError(f"{name}: expected a positive integer, got {value!r}")
        if isinstance(self.batch_size, bool) or self.batch_size < 1:
            raise UserError(f"batch_size: expected a positive integer, got {self.batch_size!r}")
        if {"src_vocab_size", "tgt_vocab_size"} & set(self.model or {}):
            raise UserError("model.src_vocab_size: set by the tokenizers; use src_vocab_size")

    def _model_config(self) -> Seq2SeqConfig:
        t = self.tgt_tokenizer_
        return Seq2SeqConfig(
            src_vocab_size=self.src_tokenizer_.vocab_size,
            tgt_vocab_size=t.vocab_size,
            **{"pad_id": t.pad_id, "bos_id": t.bos_id, "eos_id": t.eos_id, **(self.model or {})},
        )

    def _encode_pairs(self, pairs: Pairs) -> list[tuple[list[int], list[int]]]:
        return [(self.encode_source(s), self.tgt_tokenizer_.encode(t)) for s, t in pairs]

    def encode_source(self, sentence: str) -> list[int]:
        """A source sentence's ids as the encoder reads them (reversed with ``reverse_source``;
        ``<unk>`` for an empty one)."""
        ids = self.src_tokenizer_.encode(sentence) or [self.src_tokenizer_.unk_id]
        return ids[::-1] if self.reverse_source else ids

    def _keep_short(self, pairs: list) -> list:
        kept = [
            (s, t)
            for s, t in pairs
            if (self.max_src_len is None or len(s) <= self.max_src_len)
            and (self.max_tgt_len is None or len(t) <= self.max_tgt_len)
        ]
        if not kept:
            raise UserError(
                f"max_src_len/max_tgt_len: every training pair is longer "
                f"({self.max_src_len}/{self.max_tgt_len} tokens); raise the limits"
            )
        self.dropped_ = len(pairs) - len(kept)
        return kept

    def _validation_scores(self, valid: Pairs):
        """BLEU/chrF/exact of greedy translations of the first validation sentences."""
        src, ref = valid.src[:SCORE_SENTENCES], valid.tgt[:SCORE_SENTENCES]

        def scores(model) -> dict[str, float]:  # the trainer's (the average under ema)
            with self._scoring(model):
                found = translation_scores(self.translate(src, method="greedy"), ref)
            return {k: found[k] for k in ("bleu", "chrf", "exact")}

        return scores

    def _load_tokenizers(self, checkpoint: Checkpoint) -> None:
        self.src_tokenizer_ = load_tokenizer(checkpoint.tokenizer_dir / "src")
        self.tgt_tokenizer_ = load_tokenizer(checkpoint.tokenizer_dir / "tgt")

    def _run_config(self, corpus: PairCorpus | None = None) -> dict:
        data = {"batch_size": self.batch_size, "length_ratio": self.length_ratio_}
        if corpus is not None and corpus.sources:
            data.update(sources=corpus.spec(), fingerprint=corpus.fingerprint())
        model = self._model_config().to_dict()
        return {"model": model, "data": data, "estimator": self.recorded_params()}

    def _files(self) -> dict[str, bytes]:
        files = {}
        for side, tokenizer in (("src", self.src_tokenizer_), ("tgt", self.tgt_tokenizer_)):
            files.update({f"tokenizer/{side}/{n}": d for n, d in tokenizer.files().items()})
        return files

    def _restore(self, checkpoint: Checkpoint) -> None:
        config = self._network(checkpoint)
        self.model_ = build_model(checkpoint, lambda: build_seq2seq(config))
        self._load_tokenizers(checkpoint)
        for side, tokenizer in (("src", self.src_tokenizer_), ("tgt", self.tgt_tokenizer_)):
            size = f"{side}_vocab_size"
            check_vocabulary(
                tokenizer, getattr(config, size), checkpoint.tokenizer_dir / side, size
            )
        ratio = checkpoint.config["data"].get("length_ratio")  # None: max_len only
        if ratio is not None and (not isinstance(ratio, int | float) or not 0 < ratio < 1e6):
            raise UserError(f"data.length_ratio: expected a positive number, got {ratio!r:.40}")
        self.length_ratio_ = ratio

    # ------------------------------------------------------------------ inference
    def translate(
        self,
        sentences: Sequence[str],
        method: str = "beam",
        beam_size: int = 5,
        length_penalty: float = 0.6,
        max_len_ratio: float | None = None,
        max_len: int | None = 200,
        n_best: int | None = None,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        batch_size: int = 64,
    ) -> list[str] | list[list[tuple[str, float]]]:
        """Translates each sentence; an empty (or blank) sentence gives an empty translation.

        Args:
            sentences: source sentences.
            method: ``"greedy"``, ``"beam"`` or ``"sample"``.
            beam_size, length_penalty, n_best: beam search (GNMT length penalty alpha).
            max_len_ratio, max_len: output length limits: tokens per source token (default
                1.5 times the largest target/source ratio of the training pairs) and tokens.
            temperature, top_k, top_p, seed: sampling.
            batch_size: sentences decoded together.

        Returns:
            One string per sentence; with ``n_best``, per sentence a list of ``(text, score)``.
        """
        self._check_fitted()
        if method not in METHODS:
            raise UserError(f"method: expected one of {', '.join(METHODS)}, got {method!r}")
        gen = seeded_generator(seed)
        if max_len_ratio is None and self.length_ratio_ is not None:
            max_len_ratio = RATIO_MARGIN * self.length_ratio_
        results: list = [[] for _ in sentences]
        todo = [(k, self.encode_source(s)) for k, s in enumerate(sentences) if s.strip()]
        for indices in bucketed_batches([(len(ids), 0) for _, ids in todo], batch_size, 0):
            batch = [todo[i] for i in indices]
            src, lengths, _, _ = collate([(ids, []) for _, ids in batch], 0, 0, 0)
            src = src.to(device_of(self.model_))
            if method == "beam":
                found = beam_search(
                    self.model_,
                    src,
                    lengths,
                    beam_size,
                    max_len_ratio,
                    max_len,
                    length_penalty,
                    n_best or 1,
                )
            elif method == "greedy":
                found = [[h] for h in greedy(self.model_, src, lengths, max_len, max_len_ratio)]
            else:
                found = [
                    [h]
                    for h in sample(
                        self.model_,
                        src,
                        lengths,
                        max_len,
                        max_len_ratio,
                        temperature,
                        top_k,
                        top_p,
                        gen,
                    )
                ]
            for (k, _), hyps in zip(batch, found, strict=True):
                results[k] = [(self.tgt_tokenizer_.decode(h.tokens), h.score) for h in hyps]
        if n_best is None:
            return [r[0][0] if r else "" for r in results]
        return results

    def evaluate(self, sources: Sequence[str], references: Sequence[str], **decoding) -> dict:
        """BLEU, chrF and exact match of the translations of ``sources``, overall and by source
        length (see :func:`lstmkit.seq2seq.scores.translation_scores`); ``decoding`` as
        :meth:`translate`."""
        hypotheses = self.translate(list(sources), **decoding)
        return {**translation_scores(hypotheses, references, sources), "hypotheses": hypotheses}

    # ------------------------------------------------------------------ streaming
    def start(self, sentence: str | Sequence[str]) -> Seq2SeqState:
        """Encodes the source once (one sentence, or a list of B): the state for :meth:`step`."""
        self._check_fitted()
        return seq2seq_start(self.model_, self.encode_source, sentence)

    def step(self, token, state: Seq2SeqState) -> tuple[torch.Tensor, Seq2SeqState]:
        """One decoder step in constant memory (see :mod:`lstmkit.seq2seq.stream`).

        Args:
            token: the previous target token (``"<bos>"`` first): a token string, an id, or a
                batch of B (a sequence or a (B,) tensor) for a state of B sentences.
            state: from :meth:`start` or the previous step.

        Returns:
            The next token's probabilities (V,) (a batch: (B, V)), and the new state.
        """
        self._check_fitted()
        return seq2seq_step(self.model_, self.tgt_tokenizer_, token, state)

    def stream(self, sentence: str) -> Stream:
        """A :class:`~lstmkit.decode.stream.Stream` over the translation of ``sentence``: the
        decoder after ``<bos>``; ``push``/``feed`` target tokens, ``top(k)`` the next ones."""
        self._check_fitted()
        return seq2seq_stream(self.model_, self.tgt_tokenizer_, self.encode_source, sentence)

    @property
    def model_config_(self) -> dict:
        """The network's config as the tokenizers and ``model`` give it."""
        return self._model_config().to_dict()


__all__ = ["Seq2Seq"]
