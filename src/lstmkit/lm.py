"""The language model's Python API: ``LanguageModel(...).fit(text)``, next-word prediction.

Estimator style (scikit-learn, Darts): the constructor stores hyperparameters, ``fit`` trains and
returns ``self``, learned state lives in attributes ending in ``_``, and ``save``/``load`` use the
checkpoint directory format (safetensors + JSON, no pickle).

Legend: B batch, T time, V vocabulary.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lstmkit.checkpoint import load_checkpoint, save_checkpoint
from lstmkit.data import batchify, bptt_batches, num_windows
from lstmkit.errors import UserError
from lstmkit.models import LMConfig, LSTMLanguageModel
from lstmkit.tokenizers import load_tokenizer, train_tokenizer
from lstmkit.train.optim import OptimConfig
from lstmkit.train.trainer import BEST, TrainConfig, Trainer

EVAL_BATCH = 10


class LMTask:
    """Truncated BPTT over B contiguous streams of the training text (the trainer's task)."""

    task = "lm"

    def __init__(
        self, train_ids: Tensor, valid_ids: Tensor, batch_size: int, bptt: int, meta: dict
    ):
        self.streams = batchify(train_ids, batch_size)  # (B, L)
        self.valid = batchify(valid_ids, min(EVAL_BATCH, max(1, len(valid_ids) // (bptt + 1))))
        self.bptt, self.meta = bptt, meta
        self.windows = num_windows(self.streams, bptt)

    def num_batches(self) -> int:
        return self.windows

    def batches(self, epoch: int, start: int):
        return bptt_batches(self.streams, self.bptt, start)

    def train_loss(self, model: nn.Module, batch, carry):
        x, y = (t.to(_device(model)) for t in batch)
        logits, state = model(x, carry)  # (B, T, V)
        return F.cross_entropy(logits.flatten(0, 1), y.flatten()), y.numel(), state

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        return evaluate_streams(model, self.valid, self.bptt)

    def run_config(self) -> dict:
        return self.meta["config"]

    def files(self) -> dict[str, bytes]:
        return {f"tokenizer/{name}": data for name, data in self.meta["tokenizer"].files().items()}


def evaluate_streams(model: nn.Module, streams: Tensor, bptt: int) -> dict[str, float]:
    """Mean next-token loss over (B, L) streams, state carried across windows."""
    total, count, state = 0.0, 0, None
    for x, y in bptt_batches(streams, bptt):
        x, y = x.to(_device(model)), y.to(_device(model))
        logits, state = model(x, state)
        total += F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="sum").item()
        count += y.numel()
    loss = total / max(1, count)
    return {"loss": loss, "ppl": math.exp(min(loss, 50.0))}


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


class LanguageModel:
    """An LSTM language model trained on your text.

    Args:
        tokenizer: ``"char"``, ``"word"``, ``"bpe"`` or ``"unigram"``.
        vocab_size: the tokenizer's vocabulary size (None: every char/word seen; 8000 subwords).
        model: :class:`~lstmkit.models.LMConfig` fields other than ``vocab_size``.
        batch_size, bptt: TBPTT streams and window length.
        optim: :class:`~lstmkit.train.OptimConfig` fields; train: :class:`TrainConfig` fields.

    Example:
        >>> lm = LanguageModel("char", model={"embedding_size": 8, "hidden_size": 16},
        ...                    batch_size=2, bptt=8, train={"epochs": 1})
        >>> import tempfile
        >>> text = "the cat sat on the mat\\n" * 20
        >>> with tempfile.TemporaryDirectory() as out:
        ...     lm = lm.fit(text, valid=text, out=out, progress=False)
        >>> len(lm.predict_next("the ca", k=3))
        3
    """

    def __init__(
        self,
        tokenizer: str = "word",
        vocab_size: int | None = None,
        model: dict | None = None,
        batch_size: int = 32,
        bptt: int = 35,
        optim: dict | None = None,
        train: dict | None = None,
    ) -> None:
        self.tokenizer, self.vocab_size = tokenizer, vocab_size
        self.model, self.batch_size, self.bptt = dict(model or {}), batch_size, bptt
        self.optim, self.train = dict(optim or {}), dict(train or {})

    def fit(self, text: str, valid: str, out: str | Path, progress: bool = True) -> LanguageModel:
        """Trains a tokenizer and the model on ``text``, validating on ``valid``; the run goes to
        ``out`` (``best/`` is kept as the fitted model). Returns self."""
        if "vocab_size" in self.model:  # checked before the (slow) tokenizer training
            raise UserError("model.vocab_size: set by the tokenizer; use vocab_size instead")
        options = {} if self.vocab_size is None else {"vocab_size": self.vocab_size}
        self.tokenizer_ = train_tokenizer(self.tokenizer, text, **options)
        config = LMConfig(vocab_size=self.tokenizer_.vocab_size, **self.model)
        train_config = TrainConfig(**self.train)
        torch.manual_seed(train_config.seed)
        network = LSTMLanguageModel(config)
        ids = torch.tensor(self.tokenizer_.encode(text))
        valid_ids = torch.tensor(self.tokenizer_.encode(valid))
        meta = {"config": self._run_config(config), "tokenizer": self.tokenizer_}
        task = LMTask(ids, valid_ids, self.batch_size, self.bptt, meta)
        trainer = Trainer(
            network, task, OptimConfig(**self.optim), train_config, out, progress=progress
        )
        self.progress_ = trainer.fit()
        best = Path(out) / BEST
        self.model_ = trainer.model
        if best.exists():
            self.model_.load_state_dict(load_checkpoint(best, task="lm").state_dict)
        self.model_.eval()
        return self

    def _run_config(self, config: LMConfig) -> dict:
        return {
            "model": config.to_dict(),
            "data": {"batch_size": self.batch_size, "bptt": self.bptt},
            "tokenizer": {"kind": self.tokenizer, "vocab_size": self.vocab_size},
        }

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def next_token_probs(self, text: str) -> Tensor:
        """(V,) probabilities of the token after ``text``."""
        self._check_fitted()
        ids = self.tokenizer_.encode(text) or [self.tokenizer_.eos_id]
        logits, _ = self.model_(torch.tensor([ids], device=_device(self.model_)))
        return logits[0, -1].softmax(-1).cpu()

    def predict_next(self, text: str, k: int = 5) -> list[tuple[str, float]]:
        """The ``k`` most likely next tokens after ``text``, with their probabilities."""
        probs = self.next_token_probs(text)
        top = probs.topk(min(k, probs.numel()))
        return [
            (self.tokenizer_.id_to_token(i), p)
            for p, i in zip(top.values.tolist(), top.indices.tolist(), strict=True)
        ]

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
        """Samples a continuation of ``prompt`` token by token, carrying the LSTM state."""
        self._check_fitted()
        if temperature <= 0:
            raise UserError(f"temperature: expected a value > 0, got {temperature}")
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        device = _device(self.model_)
        ids = self.tokenizer_.encode(prompt) or [self.tokenizer_.eos_id]
        logits, state = self.model_(torch.tensor([ids], device=device))
        out: list[int] = []
        for _ in range(max_tokens):
            probs = _filter(logits[0, -1].float().cpu() / temperature, top_k, top_p).softmax(-1)
            token = int(torch.multinomial(probs, 1, generator=gen))
            out.append(token)
            logits, state = self.model_(torch.tensor([[token]], device=device), state)
        return self.tokenizer_.decode(out)

    # ------------------------------------------------------------------ files
    def save(self, directory: str | Path) -> Path:
        """Writes the fitted model as a checkpoint directory."""
        self._check_fitted()
        return save_checkpoint(
            directory,
            task="lm",
            config={**self._run_config(self.model_.config), "estimator": self._params()},
            model=self.model_,
            extra_files={f"tokenizer/{n}": d for n, d in self.tokenizer_.files().items()},
        )

    @classmethod
    def load(cls, directory: str | Path) -> LanguageModel:
        """Rebuilds a fitted model from a checkpoint directory alone."""
        checkpoint = load_checkpoint(directory, task="lm")
        params = checkpoint.config.get("estimator") or {
            "tokenizer": checkpoint.config["tokenizer"]["kind"],
            **checkpoint.config["data"],
        }
        lm = cls(**params)
        lm.tokenizer_ = load_tokenizer(checkpoint.tokenizer_dir)
        lm.model_ = LSTMLanguageModel(LMConfig(**checkpoint.config["model"]))
        lm.model_.load_state_dict(checkpoint.state_dict)
        lm.model_.eval()
        return lm

    def _params(self) -> dict:
        keys = ("tokenizer", "vocab_size", "model", "batch_size", "bptt", "optim", "train")
        return {k: getattr(self, k) for k in keys}

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise UserError("LanguageModel: not fitted yet; call fit() or LanguageModel.load()")


def _filter(logits: Tensor, top_k: int | None, top_p: float | None) -> Tensor:
    """Logits (V,) with all but the top-k / the nucleus of mass top_p set to -inf."""
    if top_k is not None:
        if top_k < 1:
            raise UserError(f"top_k: expected a positive integer, got {top_k}")
        kth = logits.topk(min(top_k, logits.numel())).values[-1]
        logits = logits.masked_fill(logits < kth, -math.inf)
    if top_p is not None:
        if not 0 < top_p <= 1:
            raise UserError(f"top_p: expected a probability in (0, 1], got {top_p}")
        sorted_logits, order = logits.sort(descending=True)
        mass = sorted_logits.softmax(-1).cumsum(-1)
        drop = mass - sorted_logits.softmax(-1) >= top_p  # keep the smallest set reaching top_p
        logits = logits.masked_fill(drop.scatter(0, order, drop), -math.inf)
    return logits


__all__ = ["LMTask", "LanguageModel"]
