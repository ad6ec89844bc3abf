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
:func:`lstmkit.decode.greedy` and :func:`lstmkit.decode.beam_search`
(:mod:`lstmkit.speech.transcription`).

Legend: B batch, T feature frames, T' output frames (CTC's, or the listener's), F feature bands,
V output tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from torch import Tensor

from lstmkit.checkpoint import Checkpoint, build_model
from lstmkit.data.utterances import Utterances, load_utterances
from lstmkit.decode.ngram import NGramLM
from lstmkit.errors import UserError
from lstmkit.models.speech import SpeechConfig
from lstmkit.models.speech_las import LASConfig
from lstmkit.speech.augment import band_centres, check_spec_augment, check_spread
from lstmkit.speech.data import SpeechData, fit_data
from lstmkit.speech.examples import transcripts, usable_pairs
from lstmkit.speech.feature_cache import compute_features
from lstmkit.speech.features import FeatureConfig
from lstmkit.speech.networks import build_network, network_config, reserved_keys
from lstmkit.speech.scores import recognition_scores
from lstmkit.speech.stream import SpeechStream
from lstmkit.speech.task import SpeechTask
from lstmkit.speech.transcription import audio_features, check_decoding, decode
from lstmkit.tokenizers import load_tokenizer, train_tokenizer
from lstmkit.train.estimator import Estimator, check_vocabulary

# Over OptimConfig's (AdamW) and TrainConfig's: the model kept is the one with the best
# validation WER. No early stopping by default: WER stays at 100% for the first epochs, while CTC
# learns to emit blanks, and the user's budget (max_time) says when to stop.
DEFAULT_OPTIM = {"lr": 2e-3, "warmup_steps": 100}  # 3e-3 diverged on a seed (docs)
# The warp (VTLP_DEFAULT) and the moving average of the weights (ema) each lowered the validation
# voices' CER and WER within the ten-minute budget (the speech benchmark page has the tables).
DEFAULT_TRAIN = {"monitor": "wer", "clip": 5.0}
# By architecture. CTC trains with bfloat16 products where the CPU has them (1.46x the steps in
# the same time, as much learned a step: validation WER 4.97/5.25% against 5.68/5.89%), and with
# those steps a longer average of the weights learned more: validation WER at step 3125 (about
# what ten minutes give) with seeds 0/1/2 5.18/5.68/5.46% at 0.998 against 6.10/6.60/7.17% at
# 0.99 (0.995 between). Shorter budgets lose by it (at 1250 steps 17-19% against 13-14%). The
# attention speller learned less in bfloat16 and keeps the average it was measured with (the
# speech benchmark page).
BY_ARCHITECTURE: dict[str, dict[str, Any]] = {
    "ctc": {"precision": "auto", "ema": 0.998},
    "las": {"precision": "fp32", "ema": 0.99},
}
VTLP_DEFAULT = 0.2
# 16 utterances a batch learned more in the ten minutes than 32 or 8 (the speech benchmark page).
BATCH_SIZE = 16
# SpecAugment's settings (lstmkit.speech.augment.spec_augment) when spec_augment=True.
SPEC_AUGMENT: dict[str, Any] = {}
SCORE_UTTERANCES = 300  # validation utterances transcribed per epoch for CER/WER
TOKENIZERS = ("char", "bpe", "unigram")
NETWORKS = {"ctc": SpeechConfig, "las": LASConfig}  # architecture -> the config ``model`` sets


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
        batch_size: utterances per batch (bucketed by duration); 16 by default.
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
            0.998 for ``"ctc"``, 0.99 for ``"las"``: validation and ``best/`` use a moving
            average of the weights; ``precision`` ``"auto"`` for ``"ctc"``: bfloat16 products
            where the CPU or GPU computes them, else float32; ``"fp32"`` for ``"las"``).

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
        batch_size: int = BATCH_SIZE,
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
        data = fit_data(train, valid, progress)
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
        reserved = reserved_keys(self.architecture)
        if set(reserved) & set(self.model or {}):
            raise UserError(
                f"{', '.join(f'model.{key}' for key in reserved)}: set by the tokenizer and the "
                "features; use vocab_size and features={'n_mels': ...}"
            )
        if self.features is not None and not isinstance(self.features, dict):
            raise UserError(f"features: expected a mapping of settings, got {self.features!r}")
        FeatureConfig.from_dict(self.features or {})  # its fields checked, named as flags are
        if isinstance(self.spec_augment, dict):
            check_spec_augment(self.spec_augment, "spec_augment")

    def _train_defaults(self) -> dict[str, Any]:
        return {**DEFAULT_TRAIN, **BY_ARCHITECTURE[self.architecture]}

    def _make_task(self, data: SpeechData, checkpoint: Checkpoint | None, seed: int):
        self.feature_config_ = FeatureConfig.from_dict(self.features or {})
        train_texts = transcripts(data.train, "training transcripts", self.normalize)
        valid_texts = transcripts(data.valid, "validation transcripts", self.normalize)
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
        t, config = self.tokenizer_, self._model_config()
        train = usable_pairs(train_features, train_texts, data.train, "training", t, config)
        valid = usable_pairs(valid_features, valid_texts, data.valid, "validation", t, config)
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
        speller = (t.pad_id, t.bos_id, t.eos_id) if self.architecture == "las" else None
        warp = (float(self.vtlp), band_centres(fc)) if self.vtlp else None
        return SpeechTask(train, valid, self.batch_size, meta, augment, scores, speller, warp)

    def _validation_scores(self, features: list[Tensor], references: list[str]):
        def scores(model) -> dict[str, float]:  # the trainer's (the average under ema)
            with self._scoring(model):
                fc = self.feature_config_
                hypotheses = decode(self.model_, self.tokenizer_, fc, features, "greedy")
            found = recognition_scores([h[0]["text"] for h in hypotheses], references)
            return {"cer": found["cer"], "wer": found["wer"]}

        return scores

    def _make_network(self):
        return build_network(self._model_config())

    def _model_config(self) -> SpeechConfig | LASConfig:
        n_mels = self.feature_config_.n_mels
        return network_config(self.architecture, self.tokenizer_, n_mels, self.model)

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
        self.model_ = build_model(checkpoint, lambda: build_network(config))
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
        limit = self.max_seconds if max_seconds is None else max_seconds
        check_decoding(self.model_, method, lm, batch_size, beam_size, sample_rate, limit)
        features = audio_features(audio, self.feature_config_, sample_rate, limit)
        language_model = NGramLM.read_arpa(lm) if isinstance(lm, str | Path) else lm
        found = decode(
            self.model_,
            self.tokenizer_,
            self.feature_config_,
            features,
            method,
            beam_size,
            language_model,
            lm_weight,
            word_bonus,
            batch_size,
        )
        if timestamps:
            return [h[0] for h in found]
        return [h[0]["text"] for h in found]

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
        references = transcripts(utterances, "references", self.normalize)
        hypotheses = self.transcribe(list(utterances.paths), **decoding)
        scores = recognition_scores(hypotheses, references)
        return {**scores, "hypotheses": hypotheses, "references": references}


def progress_of(estimator: SpeechRecognizer) -> bool:
    """Whether ``fit`` was asked for progress bars (set while it runs)."""
    return getattr(estimator, "_progress", False)


__all__ = ["SpeechRecognizer"]
