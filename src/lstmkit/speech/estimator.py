"""The speech recogniser's Python API: ``SpeechRecognizer(...).fit(data)``, ``transcribe``,
``evaluate``.

Estimator style, as :class:`lstmkit.seq2seq.Seq2Seq`: the constructor stores hyperparameters,
``fit`` trains (through the one trainer) and returns ``self``, learned state lives in attributes
ending in ``_`` (``tokenizer_``, ``model_``), and ``save``/``load`` use the checkpoint directory
format, the tokenizer under ``tokenizer/`` and the feature settings in ``config.json``.

Two networks (``architecture``): :class:`lstmkit.models.speech.CTCRecognizer` (``"ctc"``, the
default), decoded by :mod:`lstmkit.decode.ctc` (greedy, or prefix beam search with an optional
word n-gram model); and Listen, Attend and Spell,
:class:`lstmkit.models.speech_las.LASRecognizer` (``"las"``), decoded by the attention speller's
:func:`lstmkit.decode.greedy` and :func:`lstmkit.decode.beam_search`.

Legend: B batch, T feature frames, T' output frames (CTC's, or the listener's), F feature bands,
V output tokens.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from lstmkit.checkpoint import Checkpoint, build_model
from lstmkit.data.audio import check_audible, read_audio, resample
from lstmkit.data.batching import bucketed_batches
from lstmkit.data.utterances import Utterances, load_utterances
from lstmkit.decode.beam import beam_search
from lstmkit.decode.ctc import CTCHypothesis, ctc_greedy, ctc_prefix_beam_search
from lstmkit.decode.greedy import Hypothesis, greedy
from lstmkit.decode.ngram import NGramLM
from lstmkit.errors import Notice, UserError
from lstmkit.models.speech import SpeechConfig, build_recognizer, frames_needed
from lstmkit.models.speech_las import LASConfig, LASRecognizer, build_las
from lstmkit.nn.device import device_of
from lstmkit.speech.augment import band_centres, check_spread, spec_augment
from lstmkit.speech.data import SpeechData, load_speech
from lstmkit.speech.feature_cache import compute_features
from lstmkit.speech.features import FeatureConfig, features_of_samples
from lstmkit.speech.scores import recognition_scores
from lstmkit.speech.stream import SpeechStream
from lstmkit.speech.task import SpeechTask, collate
from lstmkit.speech.text import TranscriptNormalizer, dropped_note
from lstmkit.tokenizers import load_tokenizer, train_tokenizer
from lstmkit.train.estimator import Estimator, check_vocabulary

# Over OptimConfig's (AdamW) and TrainConfig's: the model kept is the one with the best
# validation WER. No early stopping by default: WER stays at 100% for the first epochs, while CTC
# learns to emit blanks, and the user's budget (max_time) says when to stop.
DEFAULT_OPTIM = {"lr": 2e-3, "warmup_steps": 100}  # 3e-3 diverged on a seed (docs)
# The moving average of the weights (ema) and the warp (VTLP_DEFAULT) each lowered the validation
# voices' CER and WER within the ten-minute budget (the speech benchmark page has the table).
DEFAULT_TRAIN = {"monitor": "wer", "clip": 5.0, "ema": 0.99}
VTLP_DEFAULT = 0.2
# SpecAugment's settings (lstmkit.speech.augment.spec_augment) when spec_augment=True.
SPEC_AUGMENT: dict[str, Any] = {}
SCORE_UTTERANCES = 300  # validation utterances transcribed per epoch for CER/WER
METHODS = ("greedy", "beam")
TOKENIZERS = ("char", "bpe", "unigram")
NETWORKS = {"ctc": SpeechConfig, "las": LASConfig}  # architecture -> the config ``model`` sets
# Attention decoding ends a transcript at this many tokens a second of audio (speech is about 15
# characters a second): a speller that has not learned where to stop would run on.
MAX_TOKENS_PER_SECOND = 30


class SpeechRecognizer(Estimator):
    """A speech recogniser (CTC over a stacked bidirectional LSTM, or Listen, Attend and Spell)
    trained on your recordings.

    Args:
        tokenizer: output units: ``"char"`` (default), or SentencePiece ``"bpe"``/``"unigram"``.
        vocab_size: the tokenizer's size (None: every character; 8000 pieces is too many for a
            small corpus — give a few hundred).
        features: :class:`~lstmkit.speech.features.FeatureConfig` fields (sample rate, mel
            bands, window and hop, normalisation), over its defaults (16 kHz, 80 bands,
            25 ms / 10 ms, per utterance); ``{"normalize": "causal"}`` with
            ``model={"bidirectional": False}`` trains a model that can :meth:`stream`.
        spec_augment: SpecAugment while training: False (the default: within minutes of
            training on a CPU it slows learning more than it helps on unseen voices; see the
            speech benchmark page), True (its default masks), or a dict of
            :func:`~lstmkit.speech.augment.spec_augment`'s settings.
        vtlp: vocal tract length perturbation while training: each utterance's frequencies
            scaled by a factor drawn from ``[1 - vtlp, 1 + vtlp]``
            (:func:`~lstmkit.speech.augment.random_warp`); 0 off. The default 0.2 makes a few
            dozen training voices sound like many more.
        batch_size: utterances per batch (bucketed by duration).
        max_seconds: utterances longer than this are refused, naming the file.
        normalize: train and score on the normal form of transcripts (lowercase, letters,
            digits and in-word apostrophes; :mod:`lstmkit.speech.text`).
        architecture: ``"ctc"`` (default): CTC over a stacked LSTM; ``"las"``: Listen, Attend
            and Spell, a pyramidal LSTM listener and an attention speller, optionally trained
            with the joint CTC-attention loss (``model={"ctc_weight": 0.3}``).
        model: the network's config fields, over its defaults:
            :class:`~lstmkit.models.speech.SpeechConfig`'s (``"ctc"``) or
            :class:`~lstmkit.models.speech_las.LASConfig`'s (``"las"``), other than the sizes
            and ids the tokenizer and the features set (``vocab_size``, ``n_mels`` and the
            special ids).
        optim, train: :class:`~lstmkit.train.OptimConfig` /
            :class:`~lstmkit.train.config.TrainConfig` fields over this task's defaults
            (monitor ``"wer"``: ``best/`` is the model with the lowest validation WER; ``ema``
            0.99: validation and ``best/`` use a moving average of the weights).

    Example:
        >>> SpeechRecognizer(model={"hidden_size": 64}, batch_size=8)
        SpeechRecognizer(batch_size=8, model={'hidden_size': 64})
        >>> SpeechRecognizer(architecture="las", model={"ctc_weight": 0.3})
        SpeechRecognizer(architecture='las', model={'ctc_weight': 0.3})
    """

    task = "speech"
    network_config = SpeechConfig
    default_optim = DEFAULT_OPTIM
    default_train = DEFAULT_TRAIN
    _differs = "the training utterances differ from those"

    def __init__(
        self,
        tokenizer: str = "char",
        vocab_size: int | None = None,
        features: dict | None = None,
        spec_augment: bool | dict = False,
        vtlp: float = VTLP_DEFAULT,
        batch_size: int = 32,
        max_seconds: float = 30.0,
        normalize: bool = True,
        architecture: str = "ctc",
        model: dict | None = None,
        optim: dict | None = None,
        train: dict | None = None,
    ) -> None:
        self.tokenizer = tokenizer
        self.vocab_size = vocab_size
        self.features = features
        self.spec_augment = spec_augment
        self.vtlp = vtlp
        self.batch_size = batch_size
        self.max_seconds = max_seconds
        self.normalize = normalize
        self.architecture = architecture
        self.model = model
        self.optim = optim
        self.train = train

    # ------------------------------------------------------------------ training
    def fit(
        self,
        train: str | Path | Utterances | SpeechData | None = None,
        valid: str | Path | Utterances | None = None,
        out: str | Path | None = None,
        progress: bool = True,
        resume: str | Path | None = None,
    ) -> SpeechRecognizer:
        """Trains the tokenizer and the model; returns self, holding the best model.

        Args:
            train: a manifest, a folder of audio with ``.txt`` transcripts, a built-in corpus's
                name (None: the default one), :class:`~lstmkit.data.utterances.Utterances`,
                or :class:`~lstmkit.speech.data.SpeechData` (from
                :func:`~lstmkit.speech.data.load_speech`).
            valid: validation utterances (a manifest, folder or Utterances); default the
                corpus's own, or 5% split off ``train``.
            out: the run folder; default a temporary one, deleted after training.
            progress: progress bars (features, training).
            resume: a checkpoint (``last/``) of an earlier run to continue exactly.
        """
        self._check_settings()
        self._progress = progress
        if isinstance(train, SpeechData):
            data = train
        elif isinstance(train, Utterances):
            valid_part = load_utterances(valid) if isinstance(valid, str | Path) else valid
            data = _split_given(train, valid_part)
        else:
            data = load_speech(
                train, valid if not isinstance(valid, Utterances) else None, progress=progress
            )
            if isinstance(valid, Utterances):
                data = SpeechData(data.train, valid, data.test, data.spec)
        return self._fit_run(data, out, progress, resume)

    def _fingerprint(self, data: SpeechData) -> str | None:
        return data.fingerprint() if data.train.sources else None

    def _resume_state(self, checkpoint: Checkpoint) -> None:
        self.tokenizer_ = load_tokenizer(checkpoint.tokenizer_dir)

    @classmethod
    def _network_config_of(cls, params: dict[str, Any]) -> type:
        architecture = params.get("architecture", "ctc")  # checkpoints before LAS: CTC
        if not isinstance(architecture, str) or architecture not in NETWORKS:
            raise UserError(
                f"architecture: expected one of {', '.join(NETWORKS)}, got {architecture!r}"
            )
        return NETWORKS[architecture]

    def _check_settings(self) -> None:
        super()._check_settings()
        if self.tokenizer not in TOKENIZERS:
            raise UserError(
                f"tokenizer: expected one of {', '.join(TOKENIZERS)}, got {self.tokenizer!r}"
            )
        if (
            isinstance(self.batch_size, bool)
            or not isinstance(self.batch_size, int)
            or (self.batch_size < 1)
        ):
            raise UserError(f"batch_size: expected a positive integer, got {self.batch_size!r}")
        if not isinstance(self.max_seconds, int | float) or not 0 < self.max_seconds < 1e6:
            raise UserError(f"max_seconds: expected seconds > 0, got {self.max_seconds!r}")
        if not isinstance(self.spec_augment, bool | dict):
            raise UserError(
                f"spec_augment: expected true, false or a mapping of settings, "
                f"got {self.spec_augment!r}"
            )
        check_spread(self.vtlp, "vtlp")
        reserved = ["vocab_size", "n_mels", "blank_id", "suppress_ids"]
        if self.architecture == "las":
            reserved += ["pad_id", "bos_id", "eos_id"]
        if set(reserved) & set(self.model or {}):
            raise UserError(
                f"{', '.join(f'model.{key}' for key in reserved)}: set by the tokenizer and the "
                "features; use vocab_size and features={'n_mels': ...}"
            )
        if self.features is not None and not isinstance(self.features, dict):
            raise UserError(f"features: expected a mapping of settings, got {self.features!r}")
        FeatureConfig.from_dict(self.features or {})  # its fields checked, named as flags are
        if isinstance(self.spec_augment, dict):
            known = [p for p in inspect.signature(spec_augment).parameters][2:]
            for key in self.spec_augment:
                if key not in known:
                    raise UserError(
                        f"spec_augment.{key}: expected one of {', '.join(known)}, got an "
                        "unknown one"
                    )
            try:  # the values, on a small input, before any work
                spec_augment(torch.zeros(4, 4), torch.Generator(), **self.spec_augment)
            except UserError as error:
                raise UserError(f"spec_augment.{error}") from None

    def _make_task(self, data: SpeechData, checkpoint: Checkpoint | None, seed: int):
        self.feature_config_ = FeatureConfig.from_dict(self.features or {})
        train_texts = self._texts(data.train, "training transcripts")
        valid_texts = self._texts(data.valid, "validation transcripts")
        if checkpoint is None:
            options = {} if self.vocab_size is None else {"vocab_size": self.vocab_size}
            self.tokenizer_ = train_tokenizer(self.tokenizer, train_texts, **options)
        fc = self.feature_config_
        train_features = compute_features(
            data.train.paths, fc, max_seconds=self.max_seconds, progress=progress_of(self)
        )
        valid_features = compute_features(
            data.valid.paths, fc, max_seconds=self.max_seconds, progress=progress_of(self)
        )
        train = self._usable(train_features, train_texts, data.train, "training")
        valid = self._usable(valid_features, valid_texts, data.valid, "validation")
        augment = None
        if self.spec_augment is not False:
            augment = {
                **SPEC_AUGMENT,
                **(self.spec_augment if self.spec_augment is not True else {}),
            }
        meta = {"config": self._run_config(data), "files": self._files(), "seed": seed}
        scores = self._validation_scores(
            valid_features[:SCORE_UTTERANCES], valid_texts[:SCORE_UTTERANCES]
        )
        t = self.tokenizer_
        speller = (t.pad_id, t.bos_id, t.eos_id) if self.architecture == "las" else None
        warp = (float(self.vtlp), band_centres(fc)) if self.vtlp else None
        return SpeechTask(train, valid, self.batch_size, meta, augment, scores, speller, warp)

    def _texts(self, utterances: Utterances, what: str) -> list[str]:
        if not self.normalize:
            return list(utterances.texts)
        texts, dropped = TranscriptNormalizer().normalize_all(utterances.texts)
        for text, where in zip(texts, utterances.where, strict=True):
            if not text:
                raise UserError(
                    f"{where}: expected a transcript with letters or digits, got none left "
                    "after normalisation"
                )
        note = dropped_note(dropped, what)
        if note:
            warnings.warn(note, Notice, stacklevel=3)
        return texts

    def _usable(
        self, features: list[Tensor], texts: list[str], utterances: Utterances, what: str
    ) -> list[tuple[Tensor, list[int]]]:
        """(features, ids) of the utterances with a transcript, unknown tokens dropped and
        counted; where a CTC loss is trained (CTC, or LAS with ``ctc_weight`` > 0), those long
        enough for it: an utterance with fewer output (listener) frames than its transcript
        needs is left out and counted."""
        config = self._model_config()
        las = isinstance(config, LASConfig)
        stack = config.frame_stack if las else config.stack
        aligned = not las or config.ctc_weight > 0
        kept, short, unknown = [], [], 0
        unk = self.tokenizer_.unk_id
        for f, text, where in zip(features, texts, utterances.where, strict=True):
            ids = self.tokenizer_.encode(text)
            unknown += sum(i == unk for i in ids)
            ids = [i for i in ids if i != unk]
            if not ids:
                continue
            if aligned and frames_needed(ids) > -(-f.shape[0] // stack):
                short.append(where)
                continue
            kept.append((f, ids))
        if unknown:
            warnings.warn(
                f"{what} transcripts: dropped {unknown} tokens outside the vocabulary",
                Notice,
                stacklevel=3,
            )
        if short:
            warnings.warn(
                f"{what}: left out {len(short)} utterances too short for their transcripts "
                f"(first: {short[0]})",
                Notice,
                stacklevel=3,
            )
        if not kept:
            some = "CTC can align" if aligned else "with transcript tokens"
            raise UserError(f"{what} utterances: expected some {some}, got none")
        return kept

    def _validation_scores(self, features: list[Tensor], references: list[str]):
        def scores(model) -> dict[str, float]:  # the trainer's (the average under ema)
            with self._scoring(model):
                hypotheses = self._decode(features, "greedy")
            found = recognition_scores([h[0]["text"] for h in hypotheses], references)
            return {"cer": found["cer"], "wer": found["wer"]}

        return scores

    def _make_network(self):
        return _build(self._model_config())

    def _model_config(self) -> SpeechConfig | LASConfig:
        t = self.tokenizer_
        sizes = {"vocab_size": t.vocab_size, "n_mels": self.feature_config_.n_mels}
        if self.architecture == "las":  # the speller ends with eos: only unk is never written
            ids = {"pad_id": t.pad_id, "bos_id": t.bos_id, "eos_id": t.eos_id}
            return LASConfig(
                **sizes, **ids, blank_id=t.pad_id, suppress_ids=(t.unk_id,), **(self.model or {})
            )
        return SpeechConfig(
            **sizes,
            blank_id=t.pad_id,
            suppress_ids=(t.unk_id, t.bos_id, t.eos_id),
            **(self.model or {}),
        )

    def _run_config(self, data: SpeechData | None = None) -> dict:
        info: dict[str, Any] = {
            "features": self.feature_config_.to_dict(),
            "batch_size": self.batch_size,
        }
        if data is not None and data.train.sources:
            info.update(sources=data.spec, fingerprint=data.fingerprint())
        model = self._model_config().to_dict()
        return {"model": model, "data": info, "estimator": self.recorded_params()}

    def _restore(self, checkpoint: Checkpoint) -> None:
        config = self._network(checkpoint)
        self.model_ = build_model(checkpoint, lambda: _build(config))
        self.tokenizer_ = load_tokenizer(checkpoint.tokenizer_dir)
        check_vocabulary(self.tokenizer_, config.vocab_size, checkpoint.tokenizer_dir, "vocab_size")
        features = checkpoint.config["data"].get("features")
        if not isinstance(features, dict):
            raise UserError("data.features: expected the feature settings, got none")
        try:
            self.feature_config_ = FeatureConfig(**features)
        except UserError as error:
            raise UserError(f"data.features.{error}") from None
        if self.feature_config_.n_mels != config.n_mels:
            raise UserError(
                f"data.features.n_mels: expected the model's n_mels {config.n_mels}, "
                f"got {self.feature_config_.n_mels}"
            )

    # ------------------------------------------------------------------ inference
    def transcribe(
        self,
        audio: str | Path | np.ndarray | Tensor | Sequence,
        sample_rate: int | None = None,
        method: str = "greedy",
        beam_size: int = 8,
        lm: str | Path | NGramLM | None = None,
        lm_weight: float = 0.5,
        word_bonus: float = 1.0,
        timestamps: bool = False,
        batch_size: int = 16,
        max_seconds: float | None = None,
    ) -> list[str] | list[dict]:
        """Transcribes audio files or sample arrays.

        Args:
            audio: a path or an array of samples (mono, (N,)), or a list of them.
            sample_rate: the arrays' sample rate (default: the model's); files say their own.
            method: ``"greedy"`` or ``"beam"``: CTC's best path or prefix beam search; with
                ``architecture="las"`` the speller's most probable token at each step, or its
                beam search (at most 30 tokens a second of audio, ``MAX_TOKENS_PER_SECOND``).
            beam_size: prefixes (hypotheses) kept by the beam search.
            lm: a word n-gram model (an ARPA file or :class:`~lstmkit.decode.ngram.NGramLM`)
                fused into CTC's beam search (``method="beam"``; not with LAS).
            lm_weight, word_bonus: the fusion's weight of the LM's log-probability and its
                bonus per word.
            timestamps: return per input ``{"text", "score", "words": [{"word", "start",
                "end"}]}`` with the words' times in seconds: from the frames CTC emitted them
                at; with LAS, each token at the listener frame its attention peaks at (made
                non-decreasing along the transcript), a word from its first token's frame to
                the end of its last's.
            batch_size: utterances run through the network together.
            max_seconds: longer audio is refused (default: the model's ``max_seconds``).

        Returns:
            A list: one transcript per input (one for a single path or array), in input order
            (dicts with ``timestamps``).

        Raises:
            UserError: naming the argument or the file that cannot be used: an unreadable,
                empty, silent or too long file; an array that is not (N,) finite samples.
        """
        self._check_fitted()
        if method not in METHODS:
            raise UserError(f"method: expected one of {', '.join(METHODS)}, got {method!r}")
        if lm is not None and isinstance(self.model_, LASRecognizer):
            raise UserError("lm: the word LM fuses with CTC's beam search; got architecture='las'")
        if lm is not None and method != "beam":
            raise UserError(f"lm: needs method='beam', got method={method!r}")
        for name, value in (("batch_size", batch_size), ("beam_size", beam_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UserError(f"{name}: expected a positive integer, got {value!r}")
        if sample_rate is not None and (
            isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate < 1
        ):
            raise UserError(f"sample_rate: expected a rate in Hz > 0, got {sample_rate!r}")
        limit = self.max_seconds if max_seconds is None else max_seconds
        if not isinstance(limit, int | float) or isinstance(limit, bool) or not limit > 0:
            raise UserError(f"max_seconds: expected seconds > 0, got {limit!r}")
        if isinstance(audio, np.ndarray | Tensor) and audio.ndim != 1:
            raise UserError(
                f"audio: expected mono samples (N,) or a list of them, got an array of shape "
                f"{tuple(audio.shape)} (mix channels down first)"
            )
        items = [audio] if _single(audio) else list(audio)
        features = [self._features_of(item, sample_rate, limit) for item in items]
        language_model = NGramLM.read_arpa(lm) if isinstance(lm, str | Path) else lm
        found = self._decode(
            features, method, beam_size, language_model, lm_weight, word_bonus, batch_size
        )
        if timestamps:
            return [h[0] for h in found]
        return [h[0]["text"] for h in found]

    def _features_of(self, item, sample_rate: int | None, max_seconds: float) -> Tensor:
        fc = self.feature_config_
        if isinstance(item, str | Path):
            samples = read_audio(item, fc.sample_rate, max_seconds=max_seconds)
            check_audible(samples, str(item))
        else:
            samples = np.asarray(item.cpu() if isinstance(item, Tensor) else item, np.float32)
            if samples.ndim != 1 or not samples.size:
                raise UserError(
                    f"audio: expected mono samples (N,), got an array of shape {samples.shape}"
                )
            if not np.isfinite(samples).all():
                raise UserError("audio: expected finite samples, got NaN or inf")
            rate = fc.sample_rate if sample_rate is None else sample_rate
            if len(samples) > max_seconds * rate:
                raise UserError(
                    f"audio: expected at most {max_seconds:g} s (`max_seconds`), got "
                    f"{len(samples) / rate:.2f} s"
                )
            if rate != fc.sample_rate:
                samples = resample(samples, rate, fc.sample_rate)
        return features_of_samples(samples, fc)

    @torch.no_grad()
    def _decode(
        self,
        features: list[Tensor],
        method: str,
        beam_size: int = 8,
        lm: NGramLM | None = None,
        lm_weight: float = 0.5,
        word_bonus: float = 1.0,
        batch_size: int = 16,
    ) -> list[list[dict]]:
        """Per utterance, its n-best list of ``{"text", "score", "words"}``."""
        was_training = self.model_.training
        self.model_.eval()
        results: list[list[dict]] = [[] for _ in features]
        token_text = self._token_text()
        fc = self.feature_config_
        seconds = fc.hop_ms / 1000 * self.model_.frame_stack  # per output frame
        search = {
            "beam_size": beam_size,
            "lm": lm,
            "lm_weight": lm_weight,
            "word_bonus": word_bonus,
            "token_text": token_text,
        }
        run = self._las_batch if isinstance(self.model_, LASRecognizer) else self._ctc_batch
        try:
            lengths = [(f.shape[0], 0) for f in features]
            for indices in bucketed_batches(lengths, batch_size, 0):
                x, n, _, _ = collate([features[i] for i in indices], [[] for _ in indices])
                found = run(x.to(device_of(self.model_)), n, method, search)
                for hyps, k in zip(found, indices, strict=True):
                    duration = ((features[k].shape[0] - 1) * fc.hop_ms + fc.win_ms) / 1000
                    results[k] = [self._hypothesis(h, token_text, seconds, duration) for h in hyps]
        finally:
            self.model_.train(was_training)
        return results

    def _ctc_batch(
        self, x: Tensor, lengths: Tensor, method: str, search: dict
    ) -> list[list[CTCHypothesis]]:
        """Features (B, T, F) → per utterance, CTC's hypotheses (best first)."""
        log_probs, out_lengths = self.model_.log_probs(x, lengths)
        log_probs = log_probs.float().cpu()  # (B, T', V)
        if method == "greedy":
            return [[h] for h in ctc_greedy(log_probs, out_lengths, self.model_.config.blank_id)]
        return [
            self._search(log_probs[row, : int(out_lengths[row])], **search)  # (T', V)
            for row in range(len(lengths))
        ]

    def _las_batch(
        self, x: Tensor, lengths: Tensor, method: str, search: dict
    ) -> list[list[CTCHypothesis]]:
        """Features (B, T, F) → per utterance, the speller's hypotheses (best first), each
        token's span the listener frame its attention peaks at (:func:`_attention_spans`)."""
        ratio = MAX_TOKENS_PER_SECOND * self.feature_config_.hop_ms / 1000  # per feature frame
        if method == "greedy":
            found = [[h] for h in greedy(self.model_, x, lengths, None, max_len_ratio=ratio)]
        else:
            Z = search["beam_size"]
            found = beam_search(
                self.model_, x, lengths, Z, max_len_ratio=ratio, max_len=None, n_best=Z
            )
        return [[_attention_spans(h) for h in hyps] for hyps in found]

    def _search(self, frames: Tensor, **search: Any) -> list[CTCHypothesis]:
        """One utterance's beam-search hypotheses from its frames' log-probabilities (T', V)."""
        blank = self.model_.config.blank_id
        return ctc_prefix_beam_search(frames, search.pop("beam_size"), blank=blank, **search)

    def _token_text(self) -> list[str]:
        """Each output id's text (specials empty; a SentencePiece ``▁`` as a leading space)."""
        specials = {
            self.tokenizer_.pad_id,
            self.tokenizer_.unk_id,
            self.tokenizer_.bos_id,
            self.tokenizer_.eos_id,
        }
        return [
            "" if i in specials else self.tokenizer_.id_to_token(i)
            for i in range(self.tokenizer_.vocab_size)
        ]

    def _hypothesis(
        self, h: CTCHypothesis, token_text: list[str], seconds: float, duration: float
    ) -> dict:
        text = " ".join(self.tokenizer_.decode(h.tokens).split())
        words = _words(h, token_text, seconds)
        for word in words:  # the last output frame may reach past the audio's end
            word["end"] = min(word["end"], duration)
            word["start"] = min(word["start"], word["end"])
        return {"text": text, "score": h.score, "words": words}

    def stream(self) -> SpeechStream:
        """A stream that transcribes audio as it arrives, in chunks of any size.

        ``accept(samples)`` (samples at the model's sample rate, ``feature_config_``) returns
        the text a chunk adds, ``finish()`` the rest, ``text`` all so far: the greedy
        transcript of the whole audio, whatever the chunks; what the stream keeps does not
        grow with its length (:class:`~lstmkit.speech.stream.SpeechStream`).

        Raises:
            UserError: a model that cannot stream: Listen, Attend and Spell (its speller
                attends over the whole utterance), bidirectional, or trained on features
                normalised per utterance (train with ``model={"bidirectional": False}`` and
                ``features={"normalize": "causal"}``).

        Example:
            >>> SpeechRecognizer().stream()  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            lstmkit.errors.UserError: SpeechRecognizer: not fitted yet; ...
        """
        self._check_fitted()
        return SpeechStream(self.model_, self.tokenizer_, self.feature_config_)

    def evaluate(
        self,
        data: str | Path | Utterances,
        **decoding: Any,
    ) -> dict:
        """WER and CER (percent) of the transcripts of ``data`` against its references, with the
        substitutions, deletions and insertions, overall and by utterance length in words (see
        :func:`lstmkit.speech.scores.recognition_scores`); ``decoding`` as :meth:`transcribe`.

        Args:
            data: a manifest, a folder of audio with ``.txt`` transcripts, or Utterances.
        """
        self._check_fitted()
        utterances = data if isinstance(data, Utterances) else load_utterances(data)
        references = (
            self._texts(utterances, "references") if self.normalize else list(utterances.texts)
        )
        hypotheses = self.transcribe(list(utterances.paths), **decoding)
        scores = recognition_scores(hypotheses, references)
        return {**scores, "hypotheses": hypotheses, "references": references}


def _words(h: CTCHypothesis, token_text: list[str], seconds: float) -> list[dict]:
    """The words of a hypothesis with their start and end (seconds): a word starts at the first
    frame of its first token and ends after the last frame of its last."""
    words: list[dict] = []
    current, start, end = "", 0, 0
    for token, (first, last) in zip(h.tokens, h.spans, strict=True):
        text = token_text[token].replace("▁", " ")
        for char in text:
            if char == " ":
                if current:
                    words.append(
                        {"word": current, "start": start * seconds, "end": (end + 1) * seconds}
                    )
                current = ""
                continue
            if not current:
                start = first
            current += char
            end = last
    if current:
        words.append({"word": current, "start": start * seconds, "end": (end + 1) * seconds})
    return words


def _attention_spans(h: Hypothesis) -> CTCHypothesis:
    """A speller's hypothesis with each token placed at the listener frame its attention peaks
    at, the frames made non-decreasing (attention may glance back), as a one-frame span."""
    peaks = h.attention[: len(h.tokens)].argmax(-1)  # (U,) of the (steps, S) weights
    peaks = peaks.cummax(0).values.tolist() if len(peaks) else []
    return CTCHypothesis(h.tokens, h.score, [(p, p) for p in peaks])


def _build(config: SpeechConfig | LASConfig):
    """The network ``config`` describes."""
    return build_las(config) if isinstance(config, LASConfig) else build_recognizer(config)


def _single(audio) -> bool:
    return isinstance(audio, str | Path) or (
        isinstance(audio, np.ndarray | Tensor) and audio.ndim == 1
    )


def _split_given(train: Utterances, valid: Utterances | None) -> SpeechData:
    from lstmkit.data.utterances import split_utterances

    if valid is None:
        train, valid, _ = split_utterances(train, valid_fraction=0.05, test_fraction=0.0)
    return SpeechData(train, valid, None, {})


def progress_of(estimator: SpeechRecognizer) -> bool:
    """Whether ``fit`` was asked for progress bars (set while it runs)."""
    return getattr(estimator, "_progress", False)


__all__ = ["SpeechRecognizer"]
