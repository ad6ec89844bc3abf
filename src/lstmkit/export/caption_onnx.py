"""ONNX export of an image captioner: ``encoder.onnx`` (images → regions and the decoder's first
state) and ``decoder_step.onnx`` (one word, with attention over the regions).

:func:`write_caption` is the ``lstmkit export`` writer of a :class:`~lstmkit.caption.Captioner`.
Its two graphs call the network's own methods: :class:`CaptionEncoderGraph` runs
:meth:`~lstmkit.models.caption.ImageCaptioner.encode` (the CNN with its batch norms in eval
mode, the regions, the bridge from their mean and, with attention, the keys), and
:class:`CaptionStepGraph` runs :meth:`~lstmkit.models.caption.ImageCaptioner.decode_step` (the
LSTM as ONNX's own ``LSTM`` op, :mod:`lstmkit.export.lstm_op`) and turns its logits into the
log-probabilities every lstmkit decoder reads: ``pad`` and ``bos`` banned (``-inf``), then a
log-softmax. The batch axis is dynamic; the image size is the captioner's, fixed. The folder
also holds the tokenizer (``tokenizer/``) and, in the manifest, what the caller does around the
graphs: the image's reading and normalisation (``image``) and the decoding (``decoding``).

Before the folder is kept, both graphs are run in onnxruntime on a batch of another size than
the traced one and compared with PyTorch (:func:`check_graphs`); the largest difference is in
the manifest (``check``). :class:`OnnxCaptioner` runs such a folder with numpy, Pillow and
onnxruntime: greedy captions as :meth:`Captioner.describe <lstmkit.caption.Captioner.describe>`
gives them.

Legend: B batch, R regions (the encoder's grid, h*w), C the encoder's channels, A the attention
width, H hidden_size, L num_layers, V vocabulary; images are (B, 3, height, width).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from lstmkit.data.images import IMAGE_FORMATS, IMAGE_MEAN, IMAGE_STD
from lstmkit.errors import UserError
from lstmkit.export.graphs import export_copy
from lstmkit.export.onnx import export_graph, read_manifest
from lstmkit.models.attention import Memory
from lstmkit.models.caption import ImageCaptioner
from lstmkit.models.decoder import DecoderState

ENCODER_FILE, STEP_FILE = "encoder.onnx", "decoder_step.onnx"
MAX_LEN = 30  # Captioner.describe's default
TOL = 1e-4  # the most onnxruntime may differ from PyTorch before an export is refused


class CaptionEncoderGraph(nn.Module):
    """The captioner's encoder: ``images`` (B, 3, height, width) float32, normalised as
    :func:`~lstmkit.data.images.normalise_image` does → ``memory_states`` (B, R, C) the
    regions, ``memory_keys`` (B, R, A) their attention keys (with attention), ``h`` and ``c``
    (L, B, H) the decoder's first state.

    Args:
        model: the fitted :class:`~lstmkit.models.caption.ImageCaptioner`; a copy in eval mode
            with its LSTM in ONNX form is kept.
        image_size: ``(height, width)``, the captioner's ``image_size_``.

    Example:
        >>> from lstmkit.models.caption import CaptionConfig, build_captioner
        >>> model = build_captioner(CaptionConfig(vocab_size=9, channels=(4,), hidden_size=6))
        >>> states, keys, h, c = CaptionEncoderGraph(model, (8, 6))(torch.zeros(2, 3, 8, 6))
        >>> states.shape, keys.shape, h.shape  # a 4x3 grid of regions
        (torch.Size([2, 12, 4]), torch.Size([2, 12, 6]), torch.Size([1, 2, 6]))
    """

    def __init__(self, model: ImageCaptioner, image_size: tuple[int, int]) -> None:
        super().__init__()
        self.model = export_copy(model)
        self.attention = model.attention is not None
        self.image_size = tuple(image_size)
        self.in_channels = getattr(model.encoder, "in_channels", 3)

    def train(self, mode: bool = True) -> CaptionEncoderGraph:
        # torch.onnx.export restores the mode it found: the graph never leaves eval mode, so that
        # the batch norms keep their running statistics and dropout never runs.
        return super().train(False)

    def forward(self, images: Tensor) -> tuple[Tensor, ...]:
        memory, state = self.model.encode(images)
        keys = [memory.keys + 0] if self.attention else []  # + 0: never the states' own name
        return (memory.states, *keys, state.h, state.c)

    def specs(self) -> tuple[dict, dict]:
        """Input and output names with their dynamic axes."""
        outs = {"memory_states": {0: "B"}}
        if self.attention:
            outs["memory_keys"] = {0: "B"}
        return {"images": {0: "B"}}, outs | {"h": {1: "B"}, "c": {1: "B"}}

    def example(self, batch: int = 2) -> tuple[Tensor]:
        """Random images to trace with."""
        return (torch.randn(batch, self.in_channels, *self.image_size),)


class CaptionStepGraph(nn.Module):
    """One decoder step: ``tokens`` (B,) int64 the previous words, ``h``, ``c`` (L, B, H), and
    with attention ``memory_states`` (B, R, C) and ``memory_keys`` (B, R, A) → ``log_probs``
    (B, V) of the next word (``pad`` and ``bos`` at ``-inf``, as
    :func:`lstmkit.decode.greedy.next_log_probs` gives them), ``h_out``, ``c_out`` and, with
    attention, this step's ``attention`` (B, R) over the regions.

    Args:
        model: the fitted :class:`~lstmkit.models.caption.ImageCaptioner`.
    """

    def __init__(self, model: ImageCaptioner) -> None:
        super().__init__()
        self.model = export_copy(model)
        self.attention = model.attention is not None
        banned = torch.zeros(model.decoder.output.out_features, dtype=torch.bool)  # (V,)
        banned[[model.pad_id, model.bos_id]] = True
        self.register_buffer("banned", banned)

    def train(self, mode: bool = True) -> CaptionStepGraph:
        return super().train(False)  # as CaptionEncoderGraph

    def forward(self, tokens: Tensor, h: Tensor, c: Tensor, *memory: Tensor) -> tuple[Tensor, ...]:
        if self.attention:
            states, keys = memory
            mask = torch.ones_like(states[:, :, 0], dtype=torch.bool)  # (B, R): every region
            found = Memory(states, keys, mask)
        else:  # Show and Tell: the step reads no memory
            found = Memory(None, None, None)
        logits, state = self.model.decode_step(tokens, DecoderState(h, c), found)  # (B, V)
        log_probs = logits.masked_fill(self.banned, -torch.inf).log_softmax(-1)
        weights = [state.weights] if self.attention else []
        return (log_probs, state.h, state.c, *weights)

    def specs(self) -> tuple[dict, dict]:
        """Input and output names with their dynamic axes."""
        ins = {"tokens": {0: "B"}, "h": {1: "B"}, "c": {1: "B"}}
        outs = {"log_probs": {0: "B"}, "h_out": {1: "B"}, "c_out": {1: "B"}}
        if self.attention:
            ins |= {"memory_states": {0: "B"}, "memory_keys": {0: "B"}}
            outs["attention"] = {0: "B"}
        return ins, outs

    def example(self, encoder: CaptionEncoderGraph) -> tuple[Tensor, ...]:
        """The first step after ``encoder``'s example: bos for every image."""
        with torch.no_grad():
            found = encoder(*encoder.example())
        *memory, h, c = found
        tokens = torch.full((h.shape[1],), self.model.bos_id, dtype=torch.long)
        return (tokens, h, c, *(memory if self.attention else []))


def write_caption(captioner, folder: Path, opset: int) -> dict:
    """A captioner's graphs, ``encoder.onnx`` and ``decoder_step.onnx``, checked in onnxruntime
    against PyTorch, and its tokenizer (``tokenizer/``) in ``folder``.

    Args:
        captioner: a fitted :class:`~lstmkit.caption.Captioner`.
        folder: an existing folder to write into.
        opset: the ONNX opset (14 to 20).

    Returns:
        The manifest entries: ``kind`` ``"caption"``, ``graphs``, the model ``config``,
        ``tokenizer``, ``special_ids``, ``image`` (see :func:`image_settings`), ``decoding``
        and ``check`` (see :func:`check_graphs`).

    Raises:
        UserError: naming ``captioner`` when it is not a fitted captioner.
        RuntimeError: a graph whose onnxruntime outputs differ from PyTorch's by more than
            :data:`TOL` (a bug, not the user's).

    Example:
        >>> entries = write_caption(captioner, Path("caption-onnx"), 17)  # doctest: +SKIP
        >>> entries["graphs"]["decoder_step"]["file"]  # doctest: +SKIP
        'decoder_step.onnx'
    """
    model = getattr(captioner, "model_", None)
    if not isinstance(model, ImageCaptioner):
        raise UserError(
            f"captioner: expected a fitted Captioner (call fit or load first), got "
            f"{'an unfitted ' if hasattr(captioner, 'describe') else 'a '}"
            f"{type(captioner).__name__}"
        )
    tok = captioner.tokenizer_
    (folder / "tokenizer").mkdir()
    for name, data in tok.files().items():
        (folder / "tokenizer" / name).write_bytes(data)
    encoder = CaptionEncoderGraph(model, captioner.image_size_)
    step = CaptionStepGraph(model)
    with torch.no_grad():
        regions = encoder(*encoder.example(1))[0].shape[1]
    built = {
        "encoder": export_graph(encoder, encoder.example(), folder / ENCODER_FILE, opset),
        "decoder_step": export_graph(step, step.example(encoder), folder / STEP_FILE, opset),
    }
    return {
        "kind": "caption",
        "graphs": built,
        "config": captioner.model_config_,
        "tokenizer": "tokenizer",
        "special_ids": {name: getattr(tok, f"{name}_id") for name in ("pad", "unk", "bos", "eos")},
        "image": image_settings(captioner.image_size_, regions),
        "decoding": {"method": "greedy", "max_len": MAX_LEN, "lowercase": captioner.lowercase},
        "check": check_graphs(folder, encoder, step),
    }


def image_settings(image_size: tuple[int, int], regions: int) -> dict:
    """How an image becomes the encoder's input, for a caller without lstmkit: a PNG or JPEG
    (``formats``) decoded, turned as its EXIF orientation says, in RGB (grey and palette
    expanded, 16-bit scaled to 8, transparency laid on white), resized to ``size``
    ``[height, width]`` by Pillow's ``resize`` filter without keeping the aspect ratio, then
    each channel value ``x`` in 0..255 becomes ``(x / 255 - mean) / std``, channels first
    (``layout`` NCHW). ``regions`` is R, the encoder's grid cells.

    Example:
        >>> s = image_settings((32, 48), regions=96)
        >>> s["size"], s["mean"], s["resize"], s["layout"]
        ([32, 48], [0.5, 0.5, 0.5], 'bilinear', 'NCHW')
    """
    return {
        "size": list(image_size),
        "formats": list(IMAGE_FORMATS),
        "mode": "RGB",
        "resize": "bilinear",
        "scale": 255,
        "mean": list(IMAGE_MEAN),
        "std": list(IMAGE_STD),
        "layout": "NCHW",
        "regions": regions,
    }


@torch.no_grad()
def check_graphs(folder: Path, encoder: CaptionEncoderGraph, step: CaptionStepGraph) -> dict:
    """Runs the exported graphs in onnxruntime on three random images (the trace had two) for
    three greedy steps and compares every output with the PyTorch modules' (``-inf`` where
    PyTorch has it, within :data:`TOL` elsewhere).

    Returns:
        ``{"images": 3, "steps": 3, "max_abs_diff": ..., "tolerance": TOL}``.

    Raises:
        RuntimeError: naming the graph and output that differ by more than :data:`TOL`.
    """
    import onnxruntime as ort

    sessions = {
        file: ort.InferenceSession(str(folder / file), providers=["CPUExecutionProvider"])
        for file in (ENCODER_FILE, STEP_FILE)
    }

    def run(file: str, module: nn.Module, inputs: tuple[Tensor, ...]) -> list[Tensor]:
        names = [v.name for v in sessions[file].get_inputs()]
        ins, outs = module.specs()
        feeds = {n: x.numpy() for n, x in zip(ins, inputs, strict=True) if n in names}
        got, want = sessions[file].run(list(outs), feeds), module(*inputs)
        for name, a, b in zip(outs, got, want, strict=True):
            worst.append(_difference(f"{file}: {name}", a, b.numpy()))
        return [torch.from_numpy(a) for a in got]

    worst: list[float] = []
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(3, *encoder.example()[0].shape[1:], generator=generator)
    *memory, h, c = run(ENCODER_FILE, encoder, (images,))
    tokens = torch.full((3,), step.model.bos_id, dtype=torch.long)
    memory = memory if step.attention else []  # Show and Tell's step reads no regions
    for _ in range(3):
        log_probs, h, c, *_ = run(STEP_FILE, step, (tokens, h, c, *memory))
        tokens = log_probs.argmax(-1)
    return {"images": 3, "steps": 3, "max_abs_diff": max(worst), "tolerance": TOL}


def _difference(what: str, got: np.ndarray, want: np.ndarray) -> float:
    """The largest absolute difference of the finite values; raises past :data:`TOL`, or where
    the infinities differ."""
    finite = np.isfinite(want)
    if got.shape != want.shape or (np.isfinite(got) != finite).any():
        raise RuntimeError(f"{what}: onnxruntime's shape or infinities differ from PyTorch's")
    diff = float(np.abs(got[finite].astype(np.float64) - want[finite]).max(initial=0.0))
    if not diff <= TOL:
        raise RuntimeError(f"{what}: onnxruntime differs from PyTorch by {diff:.3g} > {TOL}")
    return diff


class OnnxCaptioner:
    """An exported captioner, run with numpy, Pillow and onnxruntime: :meth:`encode`,
    :meth:`decode_step`, :meth:`greedy` and :meth:`describe`, as
    :meth:`Captioner.describe <lstmkit.caption.Captioner.describe>` decodes greedily.

    Args:
        folder: the export folder.
        threads: onnxruntime's intra-op threads (default: its own choice).

    Raises:
        UserError: naming the folder or its manifest when it is not a caption export.

    Example:
        >>> OnnxCaptioner("caption-onnx").describe(["a.png", "b.jpg"])  # doctest: +SKIP
        ['a red circle above a blue square', 'two green triangles']
    """

    kind = "caption"

    def __init__(self, folder: str | Path, threads: int | None = None) -> None:
        from lstmkit.export.runtime import onnx_session

        self.folder = Path(folder)
        self.manifest = read_manifest(self.folder, self.kind)
        self.sessions = {
            name: onnx_session(self.folder / graph["file"], threads)
            for name, graph in self.manifest["graphs"].items()
        }
        self.size = tuple(self.manifest["image"]["size"])  # (height, width)
        self.special = self.manifest["special_ids"]

    def _run(self, graph: str, feeds: dict) -> dict[str, np.ndarray]:
        spec = self.manifest["graphs"][graph]
        names = [v["name"] for v in spec["outputs"]]
        wanted = {v["name"] for v in spec["inputs"]}
        found = self.sessions[graph].run(names, {k: v for k, v in feeds.items() if k in wanted})
        return dict(zip(names, found, strict=True))

    def images(self, items) -> np.ndarray:
        """The encoder's input (B, 3, height, width) float32 of image files (paths) or ``uint8``
        RGB pixels (height', width', 3), read, resized and normalised as the captioner does.

        Raises:
            UserError: naming the image that cannot be read, or an array of another kind.
        """
        from PIL import Image

        from lstmkit.data.images import normalise_image, read_image

        height, width = self.size
        pixels = []
        for k, item in enumerate(items):
            if isinstance(item, str | Path):
                pixels.append(read_image(item, self.size))
                continue
            array = np.asarray(item)
            if array.dtype != np.uint8 or array.ndim != 3 or array.shape[-1] != 3:
                raise UserError(
                    f"images[{k}]: expected uint8 RGB pixels (H, W, 3) or a path, got an array "
                    f"of {array.dtype} shaped {array.shape}"
                )
            if array.shape[:2] != (height, width):
                resized = Image.fromarray(array).resize((width, height), Image.Resampling.BILINEAR)
                array = np.asarray(resized, dtype=np.uint8)
            pixels.append(array)
        image = self.manifest["image"]
        return normalise_image(np.stack(pixels), image["mean"], image["std"])  # (B, 3, h, w)

    def encode(self, images: np.ndarray) -> tuple[dict, dict]:
        """Normalised images (B, 3, height, width) → the memory (``memory_states``, with
        attention ``memory_keys``) and the decoder's first state (``h``, ``c``)."""
        x = np.asarray(images, dtype=np.float32)
        if x.ndim != 4 or x.shape[1:] != (3, *self.size) or not len(x):
            raise UserError(
                f"images: expected (B, 3, {', '.join(map(str, self.size))}), got shape {x.shape}"
            )
        out = self._run("encoder", {"images": x})
        memory = {k: v for k, v in out.items() if k.startswith("memory_")}
        return memory, {k: out[k] for k in ("h", "c")}

    def decode_step(self, tokens, state: dict, memory: dict) -> tuple[np.ndarray, dict, object]:
        """Previous tokens (B,) → log-probabilities (B, V) of the next (pad and bos at -inf),
        the new state and the attention (B, R) (None without attention)."""
        feeds = {"tokens": np.asarray(tokens, dtype=np.int64), **state, **memory}
        out = self._run("decoder_step", feeds)
        return out["log_probs"], {"h": out["h_out"], "c": out["c_out"]}, out.get("attention")

    def greedy(self, images: np.ndarray, max_len: int = MAX_LEN) -> list[list[int]]:
        """The most probable word at every step for each normalised image; a caption at
        ``max_len`` tokens ends (as :func:`lstmkit.decode.greedy`). Returns the ids without
        bos, eos and pad."""
        pad, eos = self.special["pad"], self.special["eos"]
        memory, state = self.encode(images)
        B = len(images)
        tokens = np.full(B, self.special["bos"], dtype=np.int64)
        done, steps = np.zeros(B, dtype=bool), []
        for t in range(max_len + 1):
            log_probs, state, _ = self.decode_step(tokens, state, memory)
            if t >= max_len:  # at the limit only eos may follow
                log_probs = np.where(np.arange(log_probs.shape[1]) == eos, log_probs, -np.inf)
            tokens = log_probs.argmax(-1)
            steps.append(np.where(done, pad, tokens))
            done |= tokens == eos
            if done.all():
                break
        out = []
        for row in np.stack(steps, 1).tolist():
            row = row[: row.index(eos)] if eos in row else row
            out.append([i for i in row if i not in (pad, self.special["bos"], eos)])
        return out

    def describe(self, images, max_len: int = MAX_LEN) -> list[str]:
        """Greedy captions of image files or pixels (see :meth:`images`), in input order."""
        from lstmkit.tokenizers import load_tokenizer

        items = [images] if isinstance(images, str | Path) else list(images)
        if not items:
            return []
        tok = load_tokenizer(self.folder / self.manifest["tokenizer"], root=self.folder)
        ids = self.greedy(self.images(items), max_len)
        return [" ".join(tok.decode(found).split()) for found in ids]


__all__ = [
    "CaptionEncoderGraph",
    "CaptionStepGraph",
    "OnnxCaptioner",
    "check_graphs",
    "image_settings",
    "write_caption",
]
