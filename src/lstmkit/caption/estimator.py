"""The image captioner's Python API: ``Captioner(...).fit(captions)``, ``describe``,
``evaluate``, ``save``/``load``.

Estimator style, as :class:`lstmkit.speech.SpeechRecognizer`: the constructor stores
hyperparameters, ``fit`` trains through the one trainer (budgets, early stopping on validation
BLEU-4 or CIDEr-D, exact resume, ``seed``, bf16) and returns ``self``, learned state lives in
attributes ending in ``_`` (``tokenizer_``, ``model_``, ``image_size_``), and ``save``/``load``
use the checkpoint directory format, the tokenizer under ``tokenizer/`` and the image size in
``config.json``.

The network is :class:`lstmkit.models.caption.ImageCaptioner`, decoded by
:func:`lstmkit.decode.greedy` and :func:`lstmkit.decode.beam_search`.

Legend: B batch, H, W the images' height and width.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from lstmkit.caption.data import CaptionData, caption_text, load_caption_data, read_images
from lstmkit.caption.scores import caption_scores
from lstmkit.caption.task import CaptionTask, collate
from lstmkit.checkpoint import Checkpoint, build_model
from lstmkit.data.caption_builtin import CAPTION_BUILTIN, CaptionCorpus, builtin_caption
from lstmkit.data.captions import Captions, read_captions
from lstmkit.data.images import image_size, read_image
from lstmkit.decode.beam import beam_search
from lstmkit.decode.greedy import greedy
from lstmkit.errors import UserError
from lstmkit.models.caption import CaptionConfig, build_captioner, load_encoder_state
from lstmkit.nn.device import device_of
from lstmkit.tokenizers import load_tokenizer, train_tokenizer
from lstmkit.train.config import TrainConfig
from lstmkit.train.estimator import Estimator, check_vocabulary
from lstmkit.train.optim import OptimConfig

# Over OptimConfig's (AdamW) and TrainConfig's: best/ is the model with the best validation BLEU.
DEFAULT_OPTIM = {"lr": 1e-3, "warmup_steps": 100}
DEFAULT_TRAIN = {"monitor": "bleu", "clip": 5.0}
DEFAULT_IMAGE_SIZE = 128  # a user's images; the built-in corpora have their own
SCORE_IMAGES = 300  # validation images captioned per epoch for BLEU-4 and CIDEr-D
METHODS = ("greedy", "beam")
TOKENIZERS = ("word", "char")
RESERVED = ("vocab_size", "pad_id", "bos_id", "eos_id")  # set by the tokenizer


class Captioner(Estimator):
    """An image captioner (a small CNN and an LSTM decoder, with or without soft attention)
    trained on your images and captions.

    Args:
        tokenizer: caption units, ``"word"`` (default) or ``"char"``.
        vocab_size: at most this many tokens (None: every one of the training captions).
        image_size: ``(height, width)`` or a square's side the images are resized to (None: the
            built-in corpus's, else 128).
        batch_size: images per batch (each with one of its captions, drawn per epoch).
        augment: shift, brighten and contrast training images (never flipped).
        lowercase: captions lowercased (punctuation is always split off words).
        encoder_weights: a ``.safetensors`` or ``.pt`` state dict of the CNN encoder (a
            pretrained one, shapes checked; with ``model={"freeze_encoder": True}`` kept fixed).
        model: :class:`~lstmkit.models.caption.CaptionConfig` fields over its defaults, other
            than the tokenizer's (``vocab_size`` and the special ids).
        optim, train: :class:`~lstmkit.train.OptimConfig` /
            :class:`~lstmkit.train.config.TrainConfig` fields over this task's defaults (monitor
            ``"bleu"``: ``best/`` is the model with the highest validation BLEU-4; ``"cider"``:
            CIDEr-D).

    Example:
        >>> Captioner(model={"attention": "none", "gate": False}, batch_size=16)
        Captioner(batch_size=16, model={'attention': 'none', 'gate': False})
    """

    task = "caption"
    network_config = CaptionConfig
    default_optim = DEFAULT_OPTIM
    default_train = DEFAULT_TRAIN
    _differs = "the training captions differ from those"

    def __init__(
        self,
        tokenizer: str = "word",
        vocab_size: int | None = None,
        image_size: int | tuple[int, int] | None = None,
        batch_size: int = 32,
        augment: bool = False,
        lowercase: bool = True,
        encoder_weights: str | Path | None = None,
        model: dict | None = None,
        optim: dict | None = None,
        train: dict | None = None,
    ) -> None:
        self.tokenizer = tokenizer
        self.vocab_size = vocab_size
        self.image_size = image_size
        self.batch_size = batch_size
        self.augment = augment
        self.lowercase = lowercase
        self.encoder_weights = encoder_weights
        self.model = model
        self.optim = optim
        self.train = train

    # ------------------------------------------------------------------ training
    def fit(
        self,
        captions: str | Path | Captions | CaptionCorpus | CaptionData | None = None,
        images: str | Path | None = None,
        valid: str | Path | Captions | None = None,
        out: str | Path | None = None,
        progress: bool = True,
        resume: str | Path | None = None,
    ) -> Captioner:
        """Trains the tokenizer and the model; returns self, holding the best model.

        Args:
            captions: a captions file (TSV/CSV, Flickr8k tokens, COCO JSON), a built-in
                corpus's name (None: ``"scenes"``), a
                :class:`~lstmkit.data.caption_builtin.CaptionCorpus`, or
                :class:`~lstmkit.data.captions.Captions`, or
                :class:`~lstmkit.caption.data.CaptionData` (read with
                :func:`~lstmkit.caption.data.load_caption_data`).
            images: the folder the captions file's image names are relative to (default its
                own folder).
            valid: validation captions (a file or Captions); default the corpus's own, or 5% of
                the images split off ``captions``.
            out: the run folder; default a temporary one, deleted after training.
            progress: progress bars.
            resume: a checkpoint (``last/``) of an earlier run to continue exactly.

        Raises:
            UserError: naming the setting, file or line that cannot be used, before training.
        """
        self._check_settings()
        self._encoder_state = None
        if self.encoder_weights is not None and resume is None:
            self._encoder_state = _read_state(self.encoder_weights)
        data = load_caption_data(captions, images, valid)
        return self._fit_run(data, out, progress, resume)

    def recorded_params(self) -> dict[str, Any]:
        """As :meth:`Estimator.recorded_params`, ``encoder_weights`` as a string."""
        params = super().recorded_params()
        if params["encoder_weights"] is not None:
            params["encoder_weights"] = str(params["encoder_weights"])
        return params

    def _fingerprint(self, data: CaptionData) -> str | None:
        return data.fingerprint()

    def _resume_state(self, checkpoint: Checkpoint) -> None:
        self.tokenizer_ = load_tokenizer(checkpoint.tokenizer_dir)

    def _check_settings(self) -> None:
        super()._check_settings()
        if self.tokenizer not in TOKENIZERS:
            raise UserError(
                f"tokenizer: expected one of {', '.join(TOKENIZERS)}, got {self.tokenizer!r}"
            )
        for name in ("batch_size", "vocab_size"):
            value = getattr(self, name)
            if name == "vocab_size" and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UserError(f"{name}: expected a positive integer, got {value!r}")
        if self.image_size is not None:
            try:
                image_size(self.image_size)
            except UserError as error:
                raise UserError(f"image_size: {error}") from None
        for name in ("augment", "lowercase"):
            if not isinstance(getattr(self, name), bool):
                raise UserError(f"{name}: expected true or false, got {getattr(self, name)!r}")
        if self.encoder_weights is not None and not isinstance(self.encoder_weights, str | Path):
            raise UserError(
                "encoder_weights: expected a .safetensors or .pt file, got "
                f"{self.encoder_weights!r}"
            )
        if set(RESERVED) & set(self.model or {}):
            raise UserError(
                f"{', '.join(f'model.{key}' for key in RESERVED)}: set by the tokenizer; use "
                "vocab_size"
            )
        try:  # the values, with a stand-in vocabulary, before any work
            CaptionConfig(vocab_size=5, **(self.model or {}))
        except UserError as error:
            raise UserError(f"model.{error}") from None
        TrainConfig(**{**self.default_train, **(self.train or {})})  # its values, named
        OptimConfig(**{**self.default_optim, **(self.optim or {})})

    def _make_task(self, data: CaptionData, checkpoint: Checkpoint | None, seed: int):
        size = self.image_size or data.image_size or DEFAULT_IMAGE_SIZE
        self.image_size_ = image_size(size)
        train_refs = self._texts(data.train)
        if checkpoint is None:
            options = {} if self.vocab_size is None else {"vocab_size": self.vocab_size}
            lines = [text for refs in train_refs for text in refs]
            self.tokenizer_ = train_tokenizer(self.tokenizer, lines, **options)
        valid_refs = self._texts(data.valid)
        valid_images = read_images(data.valid, self.image_size_)
        meta = {"config": self._run_config(data), "files": self._files(), "seed": seed}
        t = self.tokenizer_
        scores = self._validation_scores(valid_images[:SCORE_IMAGES], valid_refs[:SCORE_IMAGES])
        return CaptionTask(
            read_images(data.train, self.image_size_),
            [[t.encode(text) for text in refs] for refs in train_refs],
            valid_images,
            [[t.encode(text) for text in refs] for refs in valid_refs],
            self.batch_size,
            meta,
            (t.pad_id, t.bos_id, t.eos_id),
            augment=self.augment,
            scores=scores,
        )

    def _texts(self, captions: Captions) -> list[list[str]]:
        return [[caption_text(c, self.lowercase) for c in refs] for refs in captions.references]

    def _validation_scores(self, pixels: np.ndarray, references: list[list[str]]):
        def scores(model) -> dict[str, float]:
            with self._scoring(model):
                hypotheses = self._describe_pixels(pixels, "greedy", 1, 30, 64)
            found = caption_scores(hypotheses, references)
            return {"bleu": found["bleu4"], "cider": found["cider"]}

        return scores

    def _make_network(self):
        network = build_captioner(self._model_config())
        if getattr(self, "_encoder_state", None) is not None:
            load_encoder_state(network.encoder, self._encoder_state)
        return network

    def _model_config(self) -> CaptionConfig:
        t = self.tokenizer_
        ids = {"pad_id": t.pad_id, "bos_id": t.bos_id, "eos_id": t.eos_id}
        return CaptionConfig(vocab_size=t.vocab_size, **ids, **(self.model or {}))

    @property
    def model_config_(self) -> dict:
        """The network's config as the tokenizer and ``model`` give it."""
        return self._model_config().to_dict()

    # ------------------------------------------------------------------ files
    def _run_config(self, data: CaptionData | None = None) -> dict:
        info: dict[str, Any] = {"image_size": list(self.image_size_), "lowercase": self.lowercase}
        if data is not None:
            info.update(sources=data.spec, fingerprint=data.fingerprint())
        model = self._model_config().to_dict()
        return {"model": model, "data": info, "estimator": self.recorded_params()}

    def _restore(self, checkpoint: Checkpoint) -> None:
        config = self._network(checkpoint)
        self.model_ = build_model(checkpoint, lambda: build_captioner(config))
        self.tokenizer_ = load_tokenizer(checkpoint.tokenizer_dir)
        check_vocabulary(self.tokenizer_, config.vocab_size, checkpoint.tokenizer_dir, "vocab_size")
        try:
            self.image_size_ = image_size(checkpoint.config["data"].get("image_size"))
        except UserError as error:
            raise UserError(f"data.image_size: {error}") from None

    # ------------------------------------------------------------------ inference
    def describe(
        self,
        images: str | Path | np.ndarray | Sequence,
        method: str = "greedy",
        beam_size: int = 5,
        max_len: int = 30,
        batch_size: int = 32,
    ) -> list[str]:
        """Captions images.

        Args:
            images: a path, or ``uint8`` RGB pixels (H, W, 3) (resized to ``image_size_``), or
                a list of them.
            method: ``"greedy"`` (the most probable word at each step) or ``"beam"``.
            beam_size: hypotheses kept by the beam search.
            max_len: most tokens in a caption.
            batch_size: images run through the network together.

        Returns:
            One caption per image, in input order.

        Raises:
            UserError: naming the argument or the image that cannot be used.
        """
        self._check_fitted()
        if method not in METHODS:
            raise UserError(f"method: expected one of {', '.join(METHODS)}, got {method!r}")
        for name, value in (
            ("beam_size", beam_size),
            ("max_len", max_len),
            ("batch_size", batch_size),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UserError(f"{name}: expected a positive integer, got {value!r}")
        pixels = self._stack(images)
        if pixels is None:
            return []
        return self._describe_pixels(pixels, method, beam_size, max_len, batch_size)

    @torch.no_grad()
    def describe_n_best(
        self,
        images: str | Path | np.ndarray | Sequence,
        beam_size: int = 5,
        n_best: int = 5,
        max_len: int = 30,
    ) -> list[list[tuple[str, float]]]:
        """The ``n_best`` captions the beam search finds for each image, best first, each with
        its log-probability.

        Args:
            images: as :meth:`describe`.
            beam_size: hypotheses kept by the beam search.
            n_best: captions returned per image, at most ``beam_size``.
            max_len: most tokens in a caption.

        Raises:
            UserError: naming the argument or the image that cannot be used.
        """
        self._check_fitted()
        for name, value in (("beam_size", beam_size), ("n_best", n_best), ("max_len", max_len)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UserError(f"{name}: expected a positive integer, got {value!r}")
        if n_best > beam_size:
            raise UserError(f"n_best: expected at most beam_size {beam_size}, got {n_best}")
        pixels = self._stack(images)
        found: list[list[tuple[str, float]]] = []
        for x, lengths in self._batches(pixels if pixels is not None else [], 32):
            beams = beam_search(
                self.model_, x, lengths, beam_size, max_len_ratio=None, max_len=max_len,
                n_best=n_best,
            )  # fmt: skip
            found += [[(self._text(h.tokens), h.score) for h in b] for b in beams]
        return found

    def _stack(self, images) -> np.ndarray | None:
        """(N, H, W, 3) ``uint8`` pixels of a path, an array or a list of them; None for none."""
        single = isinstance(images, str | Path) or (
            isinstance(images, np.ndarray) and images.ndim == 3
        )
        items = [images] if single else list(images)
        return np.stack([self._pixels(item) for item in items]) if items else None

    def _batches(self, pixels, batch_size: int):
        """(images (B, 3, H, W) on the model's device, lengths (B,)) per batch of pixels."""
        t = self.tokenizer_
        for k in range(0, len(pixels), batch_size):
            x, _, _ = collate(pixels[k : k + batch_size], [[]], (t.pad_id, t.bos_id, t.eos_id))
            lengths = torch.ones(x.shape[0], dtype=torch.long)  # not read: every region counts
            yield x.to(device_of(self.model_)), lengths

    def _text(self, tokens: list[int]) -> str:
        return " ".join(self.tokenizer_.decode(tokens).split())

    def _pixels(self, item) -> np.ndarray:
        if isinstance(item, str | Path):
            return read_image(item, self.image_size_)
        pixels = np.asarray(item)
        if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[-1] != 3:
            raise UserError(
                f"images: expected uint8 RGB pixels (H, W, 3) or a path, got an array of "
                f"{pixels.dtype} shaped {pixels.shape}"
            )
        height, width = self.image_size_
        if pixels.shape[:2] != (height, width):
            resized = Image.fromarray(pixels).resize((width, height), Image.Resampling.BILINEAR)
            pixels = np.asarray(resized, dtype=np.uint8)
        return pixels

    @torch.no_grad()
    def _describe_pixels(
        self, pixels: np.ndarray, method: str, beam_size: int, max_len: int, batch_size: int
    ) -> list[str]:
        found = []
        for x, lengths in self._batches(pixels, batch_size):
            if method == "greedy":
                hyps = greedy(self.model_, x, lengths, max_len=max_len)
            else:
                beams = beam_search(
                    self.model_, x, lengths, beam_size, max_len_ratio=None, max_len=max_len
                )
                hyps = [b[0] for b in beams]
            found += [self._text(h.tokens) for h in hyps]
        return found

    def evaluate(
        self,
        captions: str | Path | Captions | CaptionCorpus,
        images: str | Path | None = None,
        **decoding: Any,
    ) -> dict:
        """BLEU-1 to 4, CIDEr-D, ROUGE-L and exact match of the captions of ``captions``' images
        against all their references (:func:`~lstmkit.caption.scores.caption_scores`);
        ``decoding`` as :meth:`describe`.

        Args:
            captions: a captions file (with ``images``, its images folder), a built-in corpus's
                name or :class:`CaptionCorpus` (its test part), or Captions.

        Returns:
            ``bleu1`` … ``bleu4``, ``cider``, ``rouge_l``, ``exact`` and ``images``, with
            ``hypotheses`` and ``references``.
        """
        self._check_fitted()
        if (
            isinstance(captions, str)
            and captions in CAPTION_BUILTIN
            and not Path(captions).exists()
        ):
            captions = builtin_caption(captions)
        if isinstance(captions, CaptionCorpus):
            captions = read_captions(captions.test, captions.folder)
        elif isinstance(captions, str | Path):
            captions = read_captions(captions, images)
        references = self._texts(captions)
        hypotheses = self.describe(list(captions.images), **decoding)
        scores = caption_scores(hypotheses, references)
        return {**scores, "hypotheses": hypotheses, "references": references}


def _read_state(path: str | Path) -> dict:
    """A state dict from a .safetensors file or a torch.save'd one (tensors only)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"encoder_weights: expected a .safetensors or .pt file, got {path}")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(path)
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # any unreadable file is the user's, said in one line
        raise UserError(
            f"encoder_weights: {path}: expected a state dict, got an unreadable file "
            f"({type(error).__name__})"
        ) from None


__all__ = ["Captioner"]
