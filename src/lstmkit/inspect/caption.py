"""Image captioner → trace: the image, where the decoder looks at each word, and its gates
(``lstmkit inspect RUN --image FILE``).

The image is read, resized and normalised exactly as
:meth:`Captioner.describe <lstmkit.caption.Captioner.describe>` does, and the greedy caption is
decoded by :func:`lstmkit.decode.greedy` (as ``describe`` runs it) while
:func:`~lstmkit.inspect.traces.recording` keeps the decoder LSTM's gates and forward hooks keep
the encoder's grid and, with Show, Attend and Tell's gating scalar, each step's ``β``.

One panel, ``"decoder"``: L layers, one step per generated word, each step labelled with the
word it emitted (the last ``<eos>``). With attention (``attention="bahdanau"``) the trace's
``attention`` is ``{"src": the regions "r<row>c<col>" (R), "tgt": the words (U), "weights":
(U, R)}``, the regions in the encoder's order (row by row of its grid); without
(``attention="none"``, Show and Tell) it is None: the decoder sees the image only through its
initial state.

Beside the panel, the trace holds a ``caption`` entry::

    caption  {"image": str, the file,
              "image_size": [height, width], the size the model reads,
              "pixels": uint8 (height, width, 3), the image as the model reads it (resized),
              "grid": [rows, cols], the encoder's grid of regions (R = rows * cols),
              "words": [str] (U), each step's word, the last "<eos>",
              "caption": str, the greedy caption (as ``describe`` gives it),
              "attention": float32 (U, rows, cols), each step's weights over the regions (each
                  map sums to 1), or None without attention,
              "gate": float32 (U,), each step's β = σ(w_β h_{t-1} + b_β), or None without the
                  gate}

Legend: U decoder steps (the words and eos), R regions, L layers, H hidden_size.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from lstmkit.data.images import normalise_image, read_image
from lstmkit.decode import greedy
from lstmkit.inspect.traces import (
    attention_finding,
    gate_findings,
    new_trace,
    no_label,
    panel,
    recording,
)
from lstmkit.nn.device import device_of

MAX_LEN = 30  # words, as Captioner.describe's default


@torch.no_grad()
def caption_trace(captioner, image: str | Path, max_len: int = MAX_LEN) -> dict:
    """The trace of an image captioner describing one image (see the module docstring).

    Args:
        captioner: a fitted :class:`~lstmkit.caption.Captioner`.
        image: a PNG or JPEG file (resized to the captioner's ``image_size_``).
        max_len: most words in the caption, as :meth:`~lstmkit.caption.Captioner.describe`.

    Returns:
        The trace: the decoder's panel over the U steps, the attention over the regions (or
        None), and ``caption`` as described above.

    Raises:
        UserError: naming the file when it is missing or not an image Pillow reads.

    Example:
        >>> import tempfile
        >>> from PIL import Image
        >>> from lstmkit.caption import Captioner
        >>> from lstmkit.models.caption import CaptionConfig, build_captioner
        >>> from lstmkit.tokenizers import train_tokenizer
        >>> cap = Captioner(model={"channels": [4, 4], "hidden_size": 6, "embedding_size": 4})
        >>> cap.tokenizer_, cap.image_size_ = train_tokenizer("word", "a red square"), (16, 8)
        >>> cap.model_ = build_captioner(CaptionConfig(**cap.model_config_))  # untrained
        >>> path = Path(tempfile.mkdtemp()) / "red.png"
        >>> Image.new("RGB", (8, 16), "red").save(path)
        >>> c = caption_trace(cap, path, max_len=3)["caption"]
        >>> steps = len(c["words"])  # at most max_len words and the eos
        >>> c["grid"], c["attention"].shape == (steps, 4, 2), c["gate"].shape == (steps,)
        ([4, 2], True, True)
    """
    model, tok = captioner.model_, captioner.tokenizer_
    pixels = read_image(image, captioner.image_size_)  # (height, width, 3)
    x = torch.from_numpy(normalise_image(pixels[None])).to(device_of(model))  # (1, 3, H, W)
    lstm = model.decoder.lstm
    grid, betas = [], []
    hooks = [model.encoder.register_forward_hook(lambda m, i, out: grid.append(out.shape[-2:]))]
    if model.decoder.gate is not None:  # β_t = σ(w_β h_{t-1} + b_β), once per step
        keep = lambda m, i, out: betas.append(float(torch.sigmoid(out[0, 0])))  # noqa: E731
        hooks.append(model.decoder.gate.register_forward_hook(keep))
    try:
        with recording(lstm) as (calls,):
            (hyp,) = greedy(model, x, torch.ones(1, dtype=torch.long), max_len=max_len)
    finally:
        for hook in hooks:
            hook.remove()
    rows, cols = (int(n) for n in grid[0])
    words = [tok.id_to_token(i) for i in hyp.tokens] + [tok.id_to_token(model.eos_id)]
    words = words[: len(calls)]  # one decoder step per emitted word, the last eos
    text = " ".join(tok.decode(hyp.tokens).split())  # as Captioner.describe writes it
    trace = new_trace("caption", f"Image captioner describing {Path(image).name}: {text[:60]!r}")
    decoder, _ = panel("decoder", words, calls, lstm.num_layers, 1, "time")
    trace["panels"].append(decoder)
    weights = None if hyp.attention is None else hyp.attention.float().numpy()  # (U, R)
    trace["caption"] = {
        "image": str(image),
        "image_size": list(captioner.image_size_),
        "pixels": pixels,
        "grid": [rows, cols],
        "words": words,
        "caption": text,
        "attention": None if weights is None else weights.reshape(-1, rows, cols),  # (U, r, c)
        "gate": np.asarray(betas[: len(words)], dtype=np.float32) if betas else None,
    }
    if weights is not None:
        regions = [f"r{r}c{c}" for r in range(rows) for c in range(cols)]  # the encoder's order
        trace["attention"] = {"src": regions, "tgt": words, "weights": weights}
    trace["findings"] += caption_findings(trace["caption"])
    if weights is not None:
        where = f"region (r<row>c<column> of the {rows}x{cols} grid)"
        trace["findings"].append(attention_finding(regions, words, weights, source=where))
    trace["findings"] += gate_findings(decoder)
    return trace


def caption_findings(caption: dict) -> list[str]:
    """Plain sentences about a caption entry: the caption, the gate β's range, how the attention
    spreads over the regions in all (the doubly stochastic penalty asks for about 1 each), or
    that a model without attention has none.

    Example:
        >>> att = np.array([[[0.7, 0.1], [0.1, 0.1]], [[0.1, 0.1], [0.1, 0.7]]])
        >>> c = {"caption": "a b", "words": ["a", "b"], "grid": [2, 2], "attention": att,
        ...      "gate": np.array([0.25, 0.75])}
        >>> for line in caption_findings(c): print(line)
        Greedy caption: 'a b' (2 words, 2 decoder steps with the eos).
        The gate β (how much of the attended image enters a step) runs from 0.25 at 'a' to 0.75 at 'b' (mean 0.50).
        Over the whole caption the 4 regions of the 2x2 grid get 0.20 to 0.80 of attention in all (the doubly stochastic penalty asks for about 1 each); the most looked at is r0c0.
        >>> caption_findings({**c, "attention": None, "gate": None})[1][:58]
        'Show and Tell (no attention): the decoder sees the image o'
    """  # noqa: E501
    words, text = caption["words"], caption["caption"]
    n = len(text.split())
    steps = f"{len(words)} decoder step{'' if len(words) == 1 else 's'}"
    found = [f"Greedy caption: {text!r} ({n} word{'' if n == 1 else 's'}, {steps} with the eos)."]
    if caption["attention"] is None:
        found.append(
            "Show and Tell (no attention): the decoder sees the image only through its initial "
            "state (the bridge from the mean of the regions), so there are no attention maps; "
            "the gates show how it writes the words."
        )
        return found
    gate = caption["gate"]
    if gate is not None and len(gate):
        low, high = int(np.argmin(gate)), int(np.argmax(gate))
        found.append(
            f"The gate β (how much of the attended image enters a step) runs from "
            f"{gate[low]:.2f} at {words[low]!r} to {gate[high]:.2f} at {words[high]!r} "
            f"(mean {np.mean(gate):.2f})."
        )
    rows, cols = caption["grid"]
    seen = np.asarray(caption["attention"], dtype=np.float64).sum(0)  # (rows, cols)
    top = np.unravel_index(int(seen.argmax()), seen.shape)
    found.append(
        f"Over the whole caption the {rows * cols} regions of the {rows}x{cols} grid get "
        f"{seen.min():.2f} to {seen.max():.2f} of attention in all (the doubly stochastic "
        f"penalty asks for about 1 each); the most looked at is r{top[0]}c{top[1]}."
    )
    return found


def caption_result(caption: dict) -> dict:
    """The numbers of a caption entry for ``lstmkit inspect --json``: the caption, the grid,
    and per step its word, β (or None) and attention map (rows x cols lists, or None).

    Example:
        >>> c = {"caption": "a", "words": ["a", "<eos>"], "grid": [1, 2], "gate": None,
        ...      "attention": np.array([[[0.25, 0.75]], [[0.5, 0.5]]], np.float32)}
        >>> caption_result(c)["steps"][0]
        {'word': 'a', 'gate': None, 'attention': [[0.25, 0.75]]}
    """
    attention, gate = caption["attention"], caption["gate"]
    steps = [
        {
            "word": word,
            "gate": None if gate is None else round(float(gate[k]), 6),
            "attention": None
            if attention is None
            else np.round(np.asarray(attention[k], np.float64), 6).tolist(),
        }
        for k, word in enumerate(caption["words"])
    ]
    return {"caption": caption["caption"], "grid": list(caption["grid"]), "steps": steps}


def caption_trace_for(captioner, image: str | Path, options: dict) -> dict:
    """``lstmkit inspect``'s trace of an image captioner (see :mod:`lstmkit.registry`,
    ``trace_input="image"``): :func:`caption_trace` of the image file."""
    no_label(options)
    return caption_trace(captioner, image)


__all__ = ["MAX_LEN", "caption_findings", "caption_result", "caption_trace", "caption_trace_for"]
