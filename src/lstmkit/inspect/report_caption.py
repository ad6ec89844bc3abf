"""The caption section of a report: a caption trace's ``caption`` entry checked, and its HTML —
the image as the model reads it and, for each word, a small copy of it with that step's
attention laid over it as a heat map (PNG images inline as ``data:`` URIs, nothing fetched).

A word's map is its attention over the encoder's ``rows x cols`` regions, upsampled over the
image by Pillow's bilinear filter (:func:`heat`), coloured with the page's viridis ramp on one
scale for the whole caption, from 0 to the highest weight any word gives any region (so that a
word that looks everywhere shows dim and one that looks at one place shows bright), and blended
over the image (:func:`overlay`). A model without attention (Show and Tell) has no maps: the
section says so, and the gates are the report's.

The page shows the maps of at most :data:`MAX_WORDS` steps (a notice says when it cuts); the PNG
figure (:mod:`lstmkit.inspect.report_figures`) shows every step. An image larger than
:data:`IMAGE_SIDE` (the input) or :data:`THUMB_SIDE` (a word's map) on its longest side is
embedded shrunk to it; a smaller one is embedded as it is and enlarged by the browser.

Legend: U decoder steps (the words and eos), R regions (rows * cols), H, W the image's height
and width.
"""

from __future__ import annotations

import base64
import html
import io

import numpy as np
from PIL import Image

from lstmkit.errors import UserError
from lstmkit.inspect.report import check_shape, require_keys

CAPTION_KEYS = ("image", "image_size", "pixels", "grid", "words", "caption", "attention", "gate")
MAX_WORDS = 60  # maps on the page; Captioner.describe's captions have at most 31 steps
IMAGE_SIDE = 384  # pixels, the input image's longest side on the page
THUMB_SIDE = 160  # pixels, a word's map's longest side on the page
ALPHA = 0.5  # the heat map's weight over the image
# The page script's viridis stops (report_assets.JS), so that the maps match its heatmaps.
VIRIDIS = np.array([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]])


def check_caption(caption: dict) -> None:
    """Raises :class:`UserError` naming the first key or shape of a trace's ``caption`` entry
    that the report cannot read."""
    where = "trace['caption']"
    require_keys(caption, CAPTION_KEYS, where)
    pixels = check_shape(caption["pixels"], (None, None, 3), f"{where}['pixels']", "(H, W, 3)")
    if pixels.size == 0 or pixels.min() < 0 or pixels.max() > 255:
        raise UserError(f"{where}['pixels']: expected values 0 to 255, got an empty or wider range")
    grid = caption["grid"]
    if not (
        isinstance(grid, list | tuple)
        and len(grid) == 2
        and all(isinstance(n, int | np.integer) and n >= 1 for n in grid)
    ):
        raise UserError(f"{where}['grid']: expected [rows, cols], two integers >= 1, got {grid!r}")
    U = len(caption["words"])
    if caption["attention"] is not None:
        shape = (U, *grid)
        check_shape(
            caption["attention"], shape, f"{where}['attention']", "(len(words), rows, cols)"
        )
    if caption["gate"] is not None:
        check_shape(caption["gate"], (U,), f"{where}['gate']", "(len(words),)")


def heat(weights, size: tuple[int, int], top: float) -> np.ndarray:
    """One step's attention ``weights`` (rows, cols) upsampled to ``size`` (height, width) by
    Pillow's bilinear filter, on the scale 0 to ``top``: float32 (height, width) in [0, 1].

    Example:
        >>> h = heat([[0.0, 0.5]], (2, 4), top=0.5)
        >>> h.shape, float(h[0, 0]), float(h[0, 3]), bool((np.diff(h[0]) >= 0).all())
        ((2, 4), 0.0, 1.0, True)
    """
    grid = Image.fromarray(np.asarray(weights, dtype=np.float32), mode="F")
    height, width = size
    up = np.asarray(grid.resize((width, height), Image.Resampling.BILINEAR), dtype=np.float32)
    return np.clip(up / top, 0, 1) if top > 0 else np.zeros_like(up)


def colour(values) -> np.ndarray:
    """Values in [0, 1] → RGB on the viridis ramp, float (…, 3) in 0..255."""
    x = np.clip(np.asarray(values, dtype=np.float64), 0, 1) * (len(VIRIDIS) - 1)
    k = np.minimum(np.floor(x).astype(int), len(VIRIDIS) - 2)
    u = (x - k)[..., None]
    return VIRIDIS[k] * (1 - u) + VIRIDIS[k + 1] * u


def overlay(pixels, weights, top: float) -> np.ndarray:
    """The image ``pixels`` (H, W, 3) with one step's attention ``weights`` (rows, cols) laid
    over it as a heat map on the scale 0 to ``top`` (:func:`heat`, :func:`colour`,
    :data:`ALPHA`): ``uint8`` (H, W, 3).

    Example:
        >>> image = np.full((4, 4, 3), 255, np.uint8)
        >>> out = overlay(image, [[1.0, 0.0], [0.0, 0.0]], top=1.0)
        >>> out.shape, out[0, 0].tolist(), out[3, 3].tolist()
        ((4, 4, 3), [254, 243, 146], [162, 128, 170])
    """
    pixels = np.asarray(pixels, dtype=np.float64)
    mixed = (1 - ALPHA) * pixels + ALPHA * colour(heat(weights, pixels.shape[:2], top))
    return np.clip(np.rint(mixed), 0, 255).astype(np.uint8)


def data_uri(pixels, side: int) -> tuple[str, int, int]:
    """A PNG ``data:`` URI of ``pixels`` (H, W, 3), shrunk to at most ``side`` pixels on its
    longest side, and the size it is shown at, ``(width, height)``, that side exactly.

    Example:
        >>> uri, width, height = data_uri(np.zeros((32, 64, 3), np.uint8), 160)
        >>> uri[:22], width, height
        ('data:image/png;base64,', 160, 80)
    """
    image = Image.fromarray(np.asarray(pixels, dtype=np.uint8), "RGB")
    scale = side / max(image.size)
    shown = (max(round(image.width * scale), 1), max(round(image.height * scale), 1))
    if scale < 1:
        image = image.resize(shown, Image.Resampling.BILINEAR)
    png = io.BytesIO()
    image.save(png, "PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(png.getvalue()).decode("ascii"), *shown


def caption_data(caption: dict) -> tuple[dict, list[str]]:
    """The page's caption data — the caption, the words, the grid, each step's β and its
    attention's peak (None without them), the maps' scale ``top`` (the highest peak) — and
    notices saying what the page leaves out."""
    words, attention, gate = caption["words"], caption["attention"], caption["gate"]
    notices = []
    if attention is not None and len(words) > MAX_WORDS:
        notices.append(
            f"Caption: the page shows the attention maps of the first {MAX_WORDS} of "
            f"{len(words)} steps to stay small; the PNG figure shows all of them."
        )
    peaks = None
    if attention is not None:
        peaks = np.asarray(attention, dtype=np.float64).reshape(len(words), -1).max(1)
    data = {
        "caption": str(caption["caption"]),
        "words": [str(w) for w in words],
        "grid": [int(n) for n in caption["grid"]],
        "gate": None if gate is None else [round(float(b), 4) for b in gate],
        "peaks": None if peaks is None else [round(float(p), 4) for p in peaks],
        "top": None if peaks is None else float(peaks.max(initial=0.0)),
    }
    return data, notices


def caption_section(caption: dict, data: dict) -> str:
    """The report's caption section for a trace's ``caption`` entry and its
    :func:`caption_data`: the caption, the image as the model reads it and each word's map
    (without attention, a line saying why there are none)."""
    pixels = np.asarray(caption["pixels"], dtype=np.uint8)
    height, width = pixels.shape[:2]
    rows, cols = data["grid"]
    uri, shown_w, shown_h = data_uri(pixels, IMAGE_SIDE)
    image = (
        f'<figure><img id="caption-image" src="{uri}" width="{shown_w}" height="{shown_h}" '
        f'alt="the image"><figcaption>The image as the model reads it: {height}x{width} '
        f"pixels (height x width), a {rows}x{cols} grid of regions.</figcaption></figure>"
    )
    if caption["attention"] is None:
        maps = (
            '<p id="no-attention" class="hint">This captioner has no attention (Show and Tell, '
            "attention none): the decoder sees the image only through its initial state, from "
            "the mean of the regions, so there are no heat maps; the gates section shows how it "
            "writes the words.</p>"
        )
    else:
        maps = (
            '<p class="hint">Where the decoder looks at each word: its attention over the '
            f"{rows}x{cols} regions, upsampled over the image and laid over it, every word on "
            f"one scale {_ramp(data['top'])} (looking at all regions alike would give each "
            f"{1 / (rows * cols):.3g}). Under each word: its highest weight and β, the gate that "
            'scales what it reads.</p><div id="word-maps" class="word-maps">'
            + "".join(
                _word_map(caption, data, k) for k in range(min(len(data["words"]), MAX_WORDS))
            )
            + "</div>"
        )
    return (
        '<section id="caption-section"><h2>Image and attention</h2>'
        f'<p>Greedy caption: <q id="caption">{html.escape(data["caption"])}</q></p>'
        f"{image}{maps}</section>"
    )


def _ramp(top: float) -> str:
    """The maps' colour scale, 0 to ``top``, as a small inline gradient between its ends."""
    stops = ", ".join(f"rgb({r}, {g}, {b})" for r, g, b in VIRIDIS)
    bar = f'<span class="ramp" style="background: linear-gradient(to right, {stops})"></span>'
    return f"(0 {bar} {top:.3g})"


def _word_map(caption: dict, data: dict, k: int) -> str:
    word = html.escape(data["words"][k])
    heat_map = overlay(caption["pixels"], caption["attention"][k], data["top"])
    uri, shown_w, shown_h = data_uri(heat_map, THUMB_SIDE)
    gate = "" if data["gate"] is None else f" · β {data['gate'][k]:.2f}"
    return (
        f'<figure class="word-map"><img src="{uri}" width="{shown_w}" height="{shown_h}" '
        f'alt="attention at {word}"><figcaption><b>{word}</b><br>max '
        f"{data['peaks'][k]:.2f}{gate}</figcaption></figure>"
    )


__all__ = [
    "ALPHA",
    "IMAGE_SIDE",
    "MAX_WORDS",
    "THUMB_SIDE",
    "caption_data",
    "caption_section",
    "check_caption",
    "colour",
    "data_uri",
    "heat",
    "overlay",
]
