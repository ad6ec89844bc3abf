"""The language model's Python API: ``LanguageModel(...).fit(text)``, next-word prediction.

Estimator style (scikit-learn, Darts): the constructor stores hyperparameters, ``fit`` trains and
returns ``self``, learned state lives in attributes ending in ``_``, and ``save``/``load`` use the
checkpoint directory format (safetensors + JSON, no pickle).

Legend: B batch, T time, V vocabulary.
"""

from __future__ import annotations

import contextlib
import math
import tempfile
import warnings
from collections.abc import Iterable
from pathlib import Path

import torch
from torch import Tensor

from lstmkit.checkpoint import Checkpoint, build_model
from lstmkit.data import (
    BucketScore,
    Corpus,
    Passage,
    TextSource,
    batchify,
    cuisine_accuracy_by_distance,
    split_text,
)
from lstmkit.decode.sampling import check_sampling, sample, seeded_generator
from lstmkit.decode.stream import Stream
from lstmkit.errors import Notice, UserError
from lstmkit.lm.stream import LMState, lm_step, lm_stream
from lstmkit.lm.task import LMTask, evaluate_streams, source_ids, token_ids
from lstmkit.models import LMConfig, LSTMLanguageModel
from lstmkit.nn.device import device_of
from lstmkit.tokenizers import format_unknowns, load_tokenizer, train_tokenizer
from lstmkit.train.estimator import Estimator, check_vocabulary

EVAL_BPTT = 256  # window of evaluate(): the state is carried, so only speed depends on it
# Over OptimConfig's: a high peak with a short warm-up (and TrainConfig's clip of 0.25) shortens
# the plateau before a long dependency is learned, within minutes on a CPU.
DEFAULT_OPTIM = {"lr": 5e-3, "warmup_steps": 100}
# A moving average of the weights over about 100 steps: validation and best/ see the average,
# which does not swing from epoch to epoch as the weights at this learning rate do.
DEFAULT_TRAIN = {"ema": 0.99}
MAX_WORD_TOKENS = 32  # next_word() gives up on a word longer than this many tokens


class LanguageModel(Estimator):
    """An LSTM language model trained on your text.

    Args:
        tokenizer: ``"char"``, ``"word"``, ``"bpe"`` or ``"unigram"``.
        vocab_size: the tokenizer's vocabulary size (None: every char/word seen; 8000 subwords).
        model: :class:`~lstmkit.models.LMConfig` fields other than ``vocab_size``, over its
            defaults.
        batch_size, bptt: TBPTT streams and window length (150 tokens by default: long enough
            for a dependency of a hundred words to fall inside most windows, so its gradient
            reaches back).
        optim: :class:`~lstmkit.train.OptimConfig` fields, over this task's
            :attr:`default_optim` (peak lr 5e-3, 100 warm-up steps); train:
            :class:`~lstmkit.train.config.TrainConfig` fields, over :attr:`default_train`
            (``ema`` 0.99: validation and checkpoints use a moving average of the weights).
        tokenizer_options: other options of the tokenizer's training (e.g. ``min_freq``).
        state_reset: probability that a stream's carried state is zeroed at the start of a
            training window, so that the model also learns to read from an empty memory, as a
            fresh prompt starts (:class:`~lstmkit.lm.task.LMTask`); 0: never (default 0.1).

    Example:
        >>> lm = LanguageModel("char", model={"embedding_size": 8, "hidden_size": 16},
        ...                    batch_size=2, bptt=8, train={"epochs": 1})
        >>> lm
        LanguageModel(tokenizer='char', model={'embedding_size': 8, 'hidden_size': 16}, \
batch_size=2, bptt=8, train={'epochs': 1})
        >>> text = "the cat sat on the mat\\n" * 20
        >>> lm = lm.fit(text, valid=text, progress=False)
        >>> len(lm.predict_next("the ca", k=3))
        3
    """

    task = "lm"
    network_config = LMConfig
    default_optim = DEFAULT_OPTIM
    default_train = DEFAULT_TRAIN
    _differs = "the training text differs from the one"

    def __init__(
        self,
        tokenizer: str = "word",
        vocab_size: int | None = None,
        model: dict | None = None,
        batch_size: int = 32,
        bptt: int = 150,
        optim: dict | None = None,
        train: dict | None = None,
        tokenizer_options: dict | None = None,
        state_reset: float = 0.1,
    ) -> None:
        self.tokenizer = tokenizer
        self.vocab_size = vocab_size
        self.model = model
        self.batch_size = batch_size
        self.bptt = bptt
        self.optim = optim
        self.train = train
        self.tokenizer_options = tokenizer_options
        self.state_reset = state_reset

    # ------------------------------------------------------------------ training
    def fit(
        self,
        train: str | Corpus,
        valid: str | TextSource | None = None,
        out: str | Path | None = None,
        progress: bool = True,
        resume: str | Path | None = None,
    ) -> LanguageModel:
        """Trains a tokenizer and the model; returns self, holding the best model by validation.

        A corpus read from files (:func:`~lstmkit.data.load_corpus`) is never held whole: the
        tokenizer learns from it piece by piece, and its token ids are written to a temporary
        folder (in ``TMPDIR``, removed when ``fit`` returns or fails) and read from there as
        a ``np.memmap``, a window at a time, so memory is bounded by the batches, not by the
        corpus. A string is tokenised in memory; both give the same batches.

        Args:
            train: the training text, or a :class:`~lstmkit.data.Corpus` (from
                :func:`~lstmkit.data.load_corpus`: files, folders, built-in names), whose sources
                are recorded in the run's config.
            valid: the validation text (or a :class:`~lstmkit.data.TextSource`); default the
                corpus's, or the last 5% of ``train``'s lines.
            out: the run folder (``last/``, ``best/``, ``metrics.jsonl``, ``loss.png``); default a
                temporary folder, deleted after training.
            progress: show a progress bar.
            resume: a checkpoint of an earlier run (its ``last/``) to continue exactly; its
                tokenizer, model, batching and optimiser settings are used, and of this
                estimator's settings only ``train`` (budgets, patience).
        """
        corpus = train if isinstance(train, Corpus) else Corpus(train, "", "")
        text, valid = corpus.stream("train"), valid if valid is not None else corpus.stream("valid")
        if valid == "" or (isinstance(valid, TextSource) and not valid.num_lines):
            text, valid, _ = split_text(text, valid_fraction=0.05, test_fraction=0.0)
        with contextlib.ExitStack() as stack:
            folder = None  # where the ids of a text in files go
            if isinstance(text, TextSource) or isinstance(valid, TextSource):
                temporary = tempfile.TemporaryDirectory(prefix="lstmkit-ids-")
                folder = Path(stack.enter_context(temporary))
            return self._fit_run((corpus, text, valid, folder), out, progress, resume)

    def _check_settings(self) -> None:
        super()._check_settings()
        if not 0 <= self.state_reset < 1:
            raise UserError(
                f"state_reset: expected a probability in [0, 1), got {self.state_reset!r}"
            )
        if "vocab_size" in (self.model or {}):  # checked before the (slow) tokenizer training
            raise UserError("model.vocab_size: set by the tokenizer; use vocab_size instead")

    def _fingerprint(self, data) -> str | None:
        corpus = data[0]
        return corpus.fingerprint() if corpus.sources else None

    def _resume_state(self, checkpoint: Checkpoint) -> None:
        self.tokenizer_ = load_tokenizer(checkpoint.tokenizer_dir)

    def _make_task(self, data, checkpoint: Checkpoint | None, seed: int) -> LMTask:
        corpus, text, valid, folder = data
        if checkpoint is None:
            options = {**(self.tokenizer_options or {})}
            if self.vocab_size is not None:
                options["vocab_size"] = self.vocab_size
            pieces = text if isinstance(text, str) else text.pieces()
            self.tokenizer_ = train_tokenizer(self.tokenizer, pieces, **options)
        ids = token_ids(self.tokenizer_, text, folder, "train")
        valid_ids = token_ids(self.tokenizer_, valid, folder, "valid")
        meta = {
            "config": self._run_config(corpus, self._model_config()),
            "tokenizer": self.tokenizer_,
        }
        return LMTask(ids, valid_ids, self.batch_size, self.bptt, meta, self.state_reset, seed)

    def _make_network(self) -> LSTMLanguageModel:
        return LSTMLanguageModel(self._model_config())

    def _model_config(self) -> LMConfig:
        """The network the tokenizer and ``model`` describe."""
        return LMConfig(vocab_size=self.tokenizer_.vocab_size, **(self.model or {}))

    def _run_config(self, corpus: Corpus | None = None, config: LMConfig | None = None) -> dict:
        """The run's config; ``config`` the network's (default: the fitted network's own)."""
        config = config or self.model_.config
        data = {"batch_size": self.batch_size, "bptt": self.bptt, "state_reset": self.state_reset}
        if corpus is not None and corpus.sources:
            data.update(sources=corpus.spec(), fingerprint=corpus.fingerprint())
        return {
            "model": config.to_dict(),
            "data": data,
            "tokenizer": {"kind": self.tokenizer, "vocab_size": self.vocab_size},
            "estimator": self.recorded_params(),
        }

    @classmethod
    def params_from_config(cls, config: dict) -> dict:
        return config.get("estimator") or {  # the first checkpoints recorded no estimator
            "tokenizer": config["tokenizer"]["kind"],
            **{k: config["data"][k] for k in ("batch_size", "bptt")},
        }

    optional_sections = (*Estimator.optional_sections, "tokenizer")

    def _restore(self, checkpoint: Checkpoint) -> None:
        config = self._network(checkpoint)
        self.model_ = build_model(checkpoint, lambda: LSTMLanguageModel(config))
        self.tokenizer_ = load_tokenizer(checkpoint.tokenizer_dir)
        check_vocabulary(self.tokenizer_, config.vocab_size, checkpoint.tokenizer_dir, "vocab_size")

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, text: str | TextSource) -> dict[str, float]:
        """Scores ``text``: mean loss in nats per token, perplexity, bits per character.

        The state is carried through the whole text, which is read as one stream. Bits per
        character are the total loss over the text's characters (``loss * tokens / chars / ln
        2``): for a char model the same as bits per token, and comparable across tokenizers.
        A :class:`~lstmkit.data.TextSource` (a file, :func:`~lstmkit.data.eval_source`) is
        tokenised piece by piece into a temporary file of ids, read a window at a time.
        """
        self._check_fitted()
        if not (text.strip() if isinstance(text, str) else text.has_text()):
            raise UserError("evaluate: expected some text, got none")
        with contextlib.ExitStack() as stack:
            if isinstance(text, str):
                ids, unknowns = self.tokenizer_.encode_with_unknowns(text)
                ids, chars = torch.tensor(ids), len(text)
            else:
                folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="lstmkit-")))
                ids, unknowns, chars = source_ids(self.tokenizer_, text, folder / "eval.ids")
            if len(ids) < 2:
                raise UserError(f"evaluate: expected at least 2 tokens, got {len(ids)}")
            self._notice("text", unknowns)
            self.model_.eval()
            bptt = min(EVAL_BPTT, len(ids) - 1)
            metrics = evaluate_streams(self.model_, batchify(ids, 1), bptt)
        bits = metrics["loss"] * metrics["tokens"] / math.log(2)
        return {**metrics, "bpc": bits / chars, "chars": chars}

    def keyword_accuracy(self, passages: Iterable[Passage]) -> dict[str, BucketScore]:
        """The ``keywords`` task's score: the cuisine word after "... favourite cuisine is", by
        the keyword's distance (see :func:`~lstmkit.data.cuisine_accuracy_by_distance`)."""
        return cuisine_accuracy_by_distance(
            lambda words: self.next_word(" ".join(words))[0], passages
        )

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def next_token_probs(self, text: str) -> Tensor:
        """(V,) probabilities of the token after ``text``."""
        logits, _ = self._read(text)
        return logits.softmax(-1).cpu()

    def predict_next(self, text: str, k: int = 5) -> list[tuple[str, float]]:
        """The ``k`` most likely next tokens after ``text``, with their probabilities.

        Characters or words the vocabulary lacks become ``<unk>``, with a :class:`Notice`.
        """
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise UserError(f"k: expected a positive integer, got {k!r}")
        probs = self.next_token_probs(text)
        top = probs.topk(min(k, probs.numel()))
        return [
            (self.tokenizer_.id_to_token(i), p)
            for p, i in zip(top.values.tolist(), top.indices.tolist(), strict=True)
        ]

    @torch.no_grad()
    def next_word(self, text: str) -> tuple[str, float]:
        """The most likely next word after ``text`` (greedy over tokens) and its probability.

        A word model predicts one token; a char or subword model is decoded greedily until the
        continuation holds a whole word (whitespace after it, or the end of the text).
        """
        if self.tokenizer_.kind == "word":
            ((word, p),) = self.predict_next(text, 1)
            return word, p
        logits, state = self._read(text)
        out: list[int] = []
        prob = 1.0
        for _ in range(MAX_WORD_TOKENS):
            probs = logits.softmax(-1)
            token = int(probs.argmax())
            prob *= float(probs[token])
            if token == self.tokenizer_.eos_id:
                break
            out.append(token)
            continuation = self.tokenizer_.decode(out)
            word, *rest = continuation.lstrip().split(maxsplit=1) or [""]
            if word and (rest or continuation.rstrip() != continuation):
                return word, prob
            logits, state = self._step(token, state)
        return self.tokenizer_.decode(out).strip(), prob

    @torch.no_grad()
    def generate(
        self,
        prompt: str,
        max_tokens: int = 100,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int | None = None,
    ) -> str:
        """Samples a continuation of ``prompt`` token by token, carrying the LSTM state.

        Never samples ``<pad>``, ``<unk>`` or ``<bos>``; stops early at ``<eos>``. Returns the
        continuation as it follows the prompt: ``prompt + generate(prompt)`` reads as one text
        (a word tokenizer's continuation starts with the space between two words)."""
        self._check_fitted()
        check_sampling(temperature, top_k, top_p)
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
            raise UserError(f"max_tokens: expected a positive integer, got {max_tokens!r}")
        gen = seeded_generator(seed)
        logits, state = self._read(prompt)
        never = [self.tokenizer_.pad_id, self.tokenizer_.unk_id, self.tokenizer_.bos_id]
        out: list[int] = []
        for _ in range(max_tokens):
            token = sample(
                logits.index_fill(0, torch.tensor(never), -math.inf), temperature, top_k, top_p, gen
            )
            if token == self.tokenizer_.eos_id:
                break
            out.append(token)
            logits, state = self._step(token, state)
        return self.tokenizer_.decode_after(prompt, out)

    def _read(self, text: str) -> tuple[Tensor, list]:
        """Runs the model over ``text``: logits (V,) of the next token, and the state."""
        self._check_fitted()
        ids, unknowns = self.tokenizer_.encode_with_unknowns(text)
        self._notice("prompt", unknowns)
        ids = ids or [self.tokenizer_.eos_id]  # an empty prompt: as after the end of a text
        self.model_.eval()
        logits, state = self.model_(torch.tensor([ids], device=device_of(self.model_)))
        return logits[0, -1], state

    def _step(self, token: int, state: list) -> tuple[Tensor, list]:
        logits, state = self.model_(torch.tensor([[token]], device=device_of(self.model_)), state)
        return logits[0, -1], state

    # ------------------------------------------------------------------ streaming
    def step(self, token, state: LMState | None = None) -> tuple[Tensor, LMState]:
        """Reads one token in constant memory, keeping no history (:mod:`lstmkit.lm.stream`).

        Args:
            token: a token string of the vocabulary, an id, or a batch of B of them (a sequence
                or a (B,) tensor); the batch size is fixed by the first step.
            state: the state the previous step returned; None starts from zeros.

        Returns:
            The next token's probabilities (V,) (a batch: (B, V)), and the new state.

        Raises:
            UserError: an unknown token, an id out of range, a batch of another size.
        """
        self._check_fitted()
        return lm_step(self.model_, self.tokenizer_, token, state)

    def stream(self) -> Stream:
        """A :class:`~lstmkit.stream.Stream` reading text piece by piece (``feed``, ``push``,
        ``top``, ``reset``), the state carried between calls."""
        self._check_fitted()
        return lm_stream(self.model_, self.tokenizer_)

    @staticmethod
    def _notice(what: str, unknowns: list[str]) -> None:
        if unknowns:
            warnings.warn(f"{what}: {format_unknowns(unknowns)}", Notice, stacklevel=3)


__all__ = ["LanguageModel", "evaluate_streams"]
