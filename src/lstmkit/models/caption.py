r"""Image captioning: a small CNN's grid of region features read by the seq2seq LSTM decoder.

The **encoder** (:class:`ConvEncoder`) is ``len(channels)`` blocks of 3x3 convolution, batch
norm, ReLU and 2x2 max pooling, trained from scratch in plain torch; its last feature map,
``h x w`` cells of ``C`` channels, is the image's ``R = h*w`` regions (a 64x64 image with four
blocks gives a 4x4 grid). Any module with the same interface (``forward`` images (B, 3, H, W) →
features (B, C, h, w), and ``output_size`` C) can take its place, and a user's pretrained
weights for it load with :func:`load_encoder_state`, optionally frozen.

The **decoder** is the seq2seq :class:`~lstmkit.models.decoder.Decoder` on
:class:`lstmkit.nn.LSTM`, started by :class:`~lstmkit.models.encoder.Bridge` from the mean of
the regions (``h_0 = tanh(W_h f̄ + b_h)``, ``c_0 = W_c f̄ + b_c``), with one of:

* ``attention="none"`` — Show and Tell (Vinyals et al. 2015): the pooled feature alone;
* ``attention="bahdanau"`` — Show, Attend and Tell (Xu et al. 2015), soft attention: at every
  word ``α_t = softmax_r(vᵀ tanh(W_q h_{t-1} + W_k a_r))`` over the regions ``a_r``, the context
  ``z_t = β_t Σ_r α_tr a_r`` with the gating scalar ``β_t = σ(w_β h_{t-1} + b_β)`` (``gate``),
  fed with the previous word into the LSTM; and in :meth:`ImageCaptioner.loss` the doubly
  stochastic penalty ``λ Σ_r (1 - Σ_t α_tr)²`` per image, which asks every region to be looked
  at about once over the caption (``penalty`` λ).

The network has Seq2Seq's decoding interface (``encode``, ``decode_step``, ``attention`` and the
special ids), so ``lstmkit.decode``'s ``greedy`` and ``beam_search`` take it, with the images as
the source (the lengths they pass are not used: every image has all its regions).

Legend: B batch, T caption tokens, R regions (h*w), C the encoder's channels, E embedding_size,
H hidden_size, L num_layers, V vocabulary.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lstmkit.errors import UserError
from lstmkit.models.attention import BahdanauAttention, Memory
from lstmkit.models.decoder import Decoder, DecoderState
from lstmkit.models.encoder import Bridge

CAPTION_ATTENTIONS = ("bahdanau", "none")  # Show, Attend and Tell; Show and Tell


@dataclass
class CaptionConfig:
    """Hyperparameters of :class:`ImageCaptioner`; the special ids are the project tokenizers'.

    Example:
        >>> CaptionConfig(vocab_size=20, channels=(8, 16)).regions((64, 64))
        256
        >>> CaptionConfig(vocab_size=20, attention="luong")
        Traceback (most recent call last):
        ...
        lstmkit.errors.UserError: attention: expected one of bahdanau, none, got 'luong'
    """

    vocab_size: int
    channels: tuple[int, ...] = (32, 64, 128, 128)  # per conv block; each halves the grid
    embedding_size: int = 128
    hidden_size: int = 256
    num_layers: int = 1
    attention: str = "bahdanau"
    gate: bool = True  # Show, Attend and Tell's gating scalar β (Bahdanau only)
    # λ of the doubly stochastic attention penalty (Bahdanau only). 0 by default: on the scenes'
    # validation images λ = 1 kept attention near uniform (docs' captioning benchmark page).
    penalty: float = 0.0
    dropout: float = 0.2  # on the decoder's embeddings and outputs, between its layers
    freeze_encoder: bool = False  # train the decoder alone (a pretrained encoder)
    in_channels: int = 3
    pad_id: int = 0
    bos_id: int = 2
    eos_id: int = 3

    def __post_init__(self) -> None:
        sizes = (("vocab_size", 5), ("embedding_size", 1), ("hidden_size", 1), ("num_layers", 1))
        ids = (("in_channels", 1), ("pad_id", 0), ("bos_id", 0), ("eos_id", 0))
        for name, low in (*sizes, *ids):
            _check_int(name, getattr(self, name), low)
        if not isinstance(self.channels, list | tuple) or not 1 <= len(self.channels) <= 8:
            raise UserError(f"channels: expected 1 to 8 channel counts, got {self.channels!r:.80}")
        for value in self.channels:
            _check_int("channels", value, 1)
        self.channels = tuple(self.channels)
        for name in ("pad_id", "bos_id", "eos_id"):
            if getattr(self, name) >= self.vocab_size:
                raise UserError(
                    f"{name}: expected an id below vocab_size {self.vocab_size}, "
                    f"got {getattr(self, name)}"
                )
        if len({self.pad_id, self.bos_id, self.eos_id}) < 3:
            raise UserError(
                f"pad_id, bos_id, eos_id: expected different ids, got "
                f"{self.pad_id}, {self.bos_id}, {self.eos_id}"
            )
        if self.attention not in CAPTION_ATTENTIONS:
            raise UserError(
                f"attention: expected one of {', '.join(CAPTION_ATTENTIONS)}, "
                f"got {self.attention!r}"
            )
        for name in ("gate", "freeze_encoder"):
            if not isinstance(getattr(self, name), bool):
                raise UserError(f"{name}: expected true or false, got {getattr(self, name)!r}")
        self._check_values()

    def _check_values(self) -> None:
        if (
            isinstance(self.dropout, bool)
            or not isinstance(self.dropout, int | float)
            or not (0 <= self.dropout < 1)
        ):
            raise UserError(f"dropout: expected a value in [0, 1), got {self.dropout!r}")
        if (
            isinstance(self.penalty, bool)
            or not isinstance(self.penalty, int | float)
            or not (0 <= self.penalty < 1e6)
        ):
            raise UserError(f"penalty: expected a value >= 0, got {self.penalty!r}")
        if self.attention == "none" and self.gate:
            raise UserError("gate: needs attention='bahdanau', got attention='none'")

    def regions(self, image_size: tuple[int, int]) -> int:
        """R, the regions of an image of ``(height, width)`` (each block halves both, floored)."""
        height, width = image_size
        for _ in self.channels:
            height, width = height // 2, width // 2
        return height * width

    def to_dict(self) -> dict:
        return {**asdict(self), "channels": list(self.channels)}


def _check_int(name: str, value, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise UserError(f"{name}: expected an integer >= {low}, got {value!r}")


class ConvEncoder(nn.Module):
    """Blocks of 3x3 conv (no bias: batch norm follows), batch norm, ReLU, 2x2 max pooling.

    Args:
        channels: output channels of each block; C is the last.
        in_channels: the images' channels (3: RGB).

    Example:
        >>> ConvEncoder((8, 16))(torch.zeros(2, 3, 32, 24)).shape
        torch.Size([2, 16, 8, 6])
    """

    def __init__(self, channels: tuple[int, ...] = (32, 64, 128, 128), in_channels: int = 3):
        super().__init__()
        layers: list[nn.Module] = []
        for c_in, c_out in zip((in_channels, *channels), channels, strict=False):
            layers += [
                nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            ]
        self.blocks = nn.Sequential(*layers)
        self.in_channels, self.output_size = in_channels, channels[-1]

    def forward(self, images: Tensor) -> Tensor:
        """Images (B, 3, H, W) → features (B, C, H / 2^k, W / 2^k) for k blocks."""
        return self.blocks(images)


def load_encoder_state(encoder: nn.Module, state: Mapping[str, Tensor]) -> None:
    """Loads a user's pretrained weights into ``encoder``, every tensor's name and shape checked.

    Args:
        encoder: the network's encoder (:attr:`ImageCaptioner.encoder`).
        state: its state dict (``torch.load`` or ``safetensors.torch.load_file`` of a file), the
            batch norms' running statistics included.

    Raises:
        UserError: naming ``encoder_weights`` and the first missing, unknown or misshapen tensor.

    Example:
        >>> encoder = ConvEncoder((4,))
        >>> load_encoder_state(encoder, {**ConvEncoder((8,)).state_dict()})
        Traceback (most recent call last):
        ...
        lstmkit.errors.UserError: encoder_weights: blocks.0.weight: expected shape (4, 3, 3, 3), \
got (8, 3, 3, 3)
    """
    if not isinstance(state, Mapping):
        raise UserError(f"encoder_weights: expected a state dict, got {type(state).__name__}")
    expected = encoder.state_dict()
    missing = [name for name in expected if name not in state]
    unknown = [name for name in state if name not in expected]
    if missing or unknown:
        raise UserError(
            f"encoder_weights: expected the encoder's tensors ({', '.join(list(expected)[:4])}, "
            f"... {len(expected)} in all), got {len(missing)} missing (first: "
            f"{(missing or ['none'])[0]}) and {len(unknown)} unknown (first: "
            f"{(unknown or ['none'])[0]})"
        )
    for name, tensor in expected.items():
        given = state[name]
        if not isinstance(given, Tensor) or given.shape != tensor.shape:
            shape = tuple(given.shape) if isinstance(given, Tensor) else type(given).__name__
            raise UserError(
                f"encoder_weights: {name}: expected shape {tuple(tensor.shape)}, got {shape}"
            )
    encoder.load_state_dict(dict(state))


class ImageCaptioner(nn.Module):
    """CNN encoder, bridge from the pooled feature, LSTM decoder with or without attention.

    Args:
        encoder: images (B, 3, H, W) → features (B, C, h, w), with ``output_size`` C.
        decoder: the :class:`Decoder`, built for ``attention``'s kind (``memory_size`` C).
        bridge: ``Bridge(C, H, L, directions=1)``.
        attention: :class:`BahdanauAttention`, or None (Show and Tell).
        penalty: λ of the doubly stochastic penalty in :meth:`loss`.
        freeze_encoder: the encoder's weights are not trained and its batch norms stay in eval
            mode (their running statistics fixed).

    Example:
        >>> model = build_captioner(CaptionConfig(vocab_size=9, channels=(4, 8), hidden_size=6,
        ...                                       embedding_size=5))
        >>> memory, state = model.encode(torch.zeros(2, 3, 16, 16))
        >>> memory.states.shape  # (B, R, C): a 4x4 grid
        torch.Size([2, 16, 8])
        >>> logits, state = model.decode_step(torch.tensor([2, 2]), state, memory)
        >>> logits.shape, state.weights.shape
        (torch.Size([2, 9]), torch.Size([2, 16]))
    """

    def __init__(
        self,
        encoder: nn.Module,
        decoder: Decoder,
        bridge: Bridge,
        attention: BahdanauAttention | None,
        *,
        penalty: float = 0.0,
        freeze_encoder: bool = False,
        pad_id: int = 0,
        bos_id: int = 2,
        eos_id: int = 3,
    ) -> None:
        super().__init__()
        kind = "none" if attention is None else attention.kind
        if decoder.attention != kind:
            raise ValueError(
                f"attention: the decoder was built for {decoder.attention!r}, got {kind!r}"
            )
        self.encoder, self.decoder, self.bridge, self.attention = (
            encoder,
            decoder,
            bridge,
            attention,
        )
        self.penalty, self.freeze_encoder = penalty, freeze_encoder
        self.pad_id, self.bos_id, self.eos_id = pad_id, bos_id, eos_id
        if freeze_encoder:
            self.encoder.requires_grad_(False)

    def train(self, mode: bool = True) -> ImageCaptioner:
        """As ``nn.Module.train``; a frozen encoder stays in eval mode (its batch norms fixed)."""
        super().train(mode)
        if self.freeze_encoder:
            self.encoder.eval()
        return self

    def regions(self, images: Tensor) -> Tensor:
        """Images (B, 3, H, W) → region features (B, R, C), row by row of the grid."""
        in_channels = getattr(self.encoder, "in_channels", 3)
        if images.dim() != 4 or images.shape[1] != in_channels:
            raise ValueError(
                f"images: expected (B, {in_channels}, H, W), got {tuple(images.shape)}"
            )
        features = self.encoder(images)  # (B, C, h, w)
        if features.shape[-2] * features.shape[-1] == 0:
            raise ValueError(
                f"images: expected images large enough for the encoder's grid, got "
                f"{tuple(images.shape[-2:])}"
            )
        return features.flatten(2).transpose(1, 2)  # (B, R, C)

    def encode(self, images: Tensor, lengths: Tensor | None = None) -> tuple[Memory, DecoderState]:
        """Images (B, 3, H, W) → the decoder's memory over the R regions and its initial state
        (the source of ``lstmkit.decode``'s searches; ``lengths`` is accepted for their
        interface and not used)."""
        return self._memory(self.regions(images))

    def _memory(self, regions: Tensor) -> tuple[Memory, DecoderState]:
        pooled = regions.mean(1).unsqueeze(0)  # (1, B, C)
        layers = len(self.bridge.h_layers)  # each decoder layer gets its map of the mean
        h, c = self.bridge(pooled.repeat(layers, 1, 1), pooled.repeat(layers, 1, 1))
        mask = regions.new_ones(regions.shape[:2], dtype=torch.bool)  # (B, R)
        keys = None if self.attention is None else self.attention.keys(regions)
        return Memory(regions, keys, mask), self.decoder.initial_state(h, c)

    def decode_step(
        self, tokens: Tensor, state: DecoderState, memory: Memory
    ) -> tuple[Tensor, DecoderState]:
        """Previous tokens (B,) → next-token logits (B, V) and the new state (its ``weights``,
        (B, R), are this step's attention over the regions; None without attention)."""
        return self.decoder.step(tokens, state, memory, self.attention)

    def logits(self, images: Tensor, tgt_in: Tensor) -> tuple[Tensor, Tensor | None]:
        """Teacher-forced logits (B, T, V) of the previous tokens ``tgt_in`` (B, T), and the
        attention weights (B, T, R) (None without attention)."""
        memory, state = self.encode(images)
        return self.decoder.teacher_forced(tgt_in, state, memory, self.attention)

    def attention_penalty(self, weights: Tensor, tgt_out: Tensor) -> Tensor:
        """``λ Σ_r (1 - Σ_t α_tr)²`` averaged over the images, the sum over each caption's own
        steps (``tgt_out`` not pad, eos included); weights (B, T, R)."""
        steps = (tgt_out != self.pad_id).unsqueeze(-1).to(weights.dtype)  # (B, T, 1)
        seen = (weights * steps).sum(1)  # (B, R) attention each region got over the caption
        return self.penalty * ((1 - seen) ** 2).sum(1).mean()

    def loss(
        self, images: Tensor, tgt_in: Tensor, tgt_out: Tensor, *, label_smoothing: float = 0.0
    ) -> tuple[Tensor, int]:
        """Mean cross-entropy over the non-pad ``tgt_out`` tokens (eos included), plus the
        doubly stochastic penalty with attention (:meth:`attention_penalty`); and the tokens.

        Args:
            images: (B, 3, H, W).
            tgt_in: (B, T) ``bos y_1 … y_n`` then pad; tgt_out: (B, T) ``y_1 … y_n eos`` then pad.
            label_smoothing: ε in [0, 1) of the cross-entropy.

        Raises:
            ValueError: naming the argument whose shape or value is wrong.
        """
        B = images.shape[0]
        for name, tgt in (("tgt_in", tgt_in), ("tgt_out", tgt_out)):
            if tgt.dim() != 2 or tgt.shape[0] != B or tgt.shape != tgt_in.shape:
                raise ValueError(f"{name}: expected ({B}, T) like tgt_in, got {tuple(tgt.shape)}")
        if not 0 <= label_smoothing < 1:
            raise ValueError(f"label_smoothing: expected a value in [0, 1), got {label_smoothing}")
        logits, weights = self.logits(images, tgt_in)
        n_tokens = int((tgt_out != self.pad_id).sum())
        ce = F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]),  # (B*T, V)
            tgt_out.reshape(-1),  # (B*T,)
            ignore_index=self.pad_id,
            label_smoothing=label_smoothing,
            reduction="sum",
        ) / max(n_tokens, 1)
        if weights is None or self.penalty == 0:
            return ce, n_tokens
        return ce + self.attention_penalty(weights.float(), tgt_out), n_tokens


def build_captioner(config: CaptionConfig, encoder: nn.Module | None = None) -> ImageCaptioner:
    """The :class:`ImageCaptioner` that ``config`` describes.

    Args:
        config: the hyperparameters.
        encoder: an encoder to use instead of ``ConvEncoder(config.channels)`` (its
            ``output_size`` is C).

    Example:
        >>> model = build_captioner(CaptionConfig(vocab_size=30, attention="none", gate=False))
        >>> model.attention is None, model.encoder.output_size
        (True, 128)
    """
    c = config
    encoder = ConvEncoder(c.channels, c.in_channels) if encoder is None else encoder
    C = encoder.output_size
    attention = BahdanauAttention(c.hidden_size, C) if c.attention == "bahdanau" else None
    decoder = Decoder(
        c.vocab_size,
        c.embedding_size,
        c.hidden_size,
        c.num_layers,
        c.dropout,
        attention=c.attention,
        memory_size=C,
        gate=c.gate,
    )
    return ImageCaptioner(
        encoder,
        decoder,
        Bridge(C, c.hidden_size, c.num_layers, directions=1),
        attention,
        penalty=c.penalty,
        freeze_encoder=c.freeze_encoder,
        pad_id=c.pad_id,
        bos_id=c.bos_id,
        eos_id=c.eos_id,
    )


__all__ = [
    "CAPTION_ATTENTIONS",
    "CaptionConfig",
    "ConvEncoder",
    "ImageCaptioner",
    "build_captioner",
    "load_encoder_state",
]
