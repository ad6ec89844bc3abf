"""Finding the memory: the LSTM units whose cell state holds a label, and how they change it.

:func:`memory_units` is the general search — one-vs-rest Pearson correlation between each unit's
cell value and "this position has the label", over labelled positions. :func:`keyword_memory`
applies it to the built-in ``keywords`` task: every position from a food to its question is
labelled with that person's cuisine, and the unit that best tells one cuisine from the others
is followed through the notes' two-person passage, where the memory must be replaced at
"my brother": a forget gate near 0 there wipes it, an input gate near 1 at the new food writes
the new one.

Legend: N positions, H hidden_size, T time, B batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from lstmkit.data.keywords import (
    CUISINES,
    FOOD_CUISINE,
    NOTES_EXAMPLE,
    Passage,
    generate_passages,
)
from lstmkit.errors import UserError
from lstmkit.inspect.traces import recording

MIN_POSITIONS = 3
PROBE_BATCH = 64  # passages run together (padded at the end: the LSTM reads left to right)


def memory_units(
    cells: np.ndarray, labels: Sequence[str | None], target: str, top: int = 5
) -> list[tuple[int, float]]:
    """The units whose cell value best tells positions labelled ``target`` from the others.

    For each unit, the Pearson correlation between its cell value and the indicator
    ``label == target`` over the labelled positions (one-vs-rest); a unit that never changes
    scores 0.

    Args:
        cells: (N, H) cell states at N positions.
        labels: N labels; None leaves a position out.
        target: the label to find.
        top: how many units to return.

    Returns:
        ``(unit, correlation)`` pairs, the largest ``|correlation|`` first.

    Raises:
        UserError: naming ``cells``, ``labels``, ``target`` or ``top`` when the shapes disagree,
            fewer than 3 positions are labelled, or no labelled position (or every one) is
            ``target``.

    Example:
        >>> cells = np.array([[0.0, 1.0], [0.1, 1.0], [1.0, 1.0], [0.9, 1.0]])
        >>> memory_units(cells, ["a", "a", "b", "b"], "b", top=2)
        [(0, 0.9938837346736189), (1, 0.0)]
    """
    cells = np.asarray(cells, dtype=np.float64)
    if cells.ndim != 2:
        raise UserError(f"cells: expected an (N, H) array, got shape {cells.shape}")
    if len(labels) != cells.shape[0]:
        raise UserError(f"labels: expected {cells.shape[0]} (one per row of cells), "
                        f"got {len(labels)}")  # fmt: skip
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise UserError(f"top: expected a positive integer, got {top!r}")
    keep = np.array([label is not None for label in labels], dtype=bool)
    x = cells[keep]  # (N', H)
    y = np.array([label == target for label in labels if label is not None], dtype=np.float64)
    if len(y) < MIN_POSITIONS:
        raise UserError(f"labels: expected at least {MIN_POSITIONS} labelled positions, "
                        f"got {len(y)}")  # fmt: skip
    if not 0 < y.sum() < len(y):
        which = "none" if y.sum() == 0 else "all"
        raise UserError(f"target: expected some labelled positions to be {target!r} and some "
                        f"not, got {which} of {len(y)}")  # fmt: skip
    xc, yc = x - x.mean(0), y - y.mean()
    constant = np.ptp(x, axis=0) == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (yc @ xc) / np.sqrt((xc**2).sum(0) * (yc**2).sum())  # (H,)
    r[constant | ~np.isfinite(r)] = 0.0
    order = np.argsort(-np.abs(r), kind="stable")[:top]
    return [(int(u), float(r[u])) for u in order]


# ---------------------------------------------------------------------------- keywords
@dataclass(frozen=True)
class KeywordMemory:
    """The unit that holds the keyword, and what its gates do when the person changes.

    Attributes:
        cuisine: the label searched (one cuisine against the others).
        layer: the layer of the unit (0-based).
        unit: the unit.
        correlation: its cell value's correlation with "the keyword is ``cuisine``".
        positions: labelled positions the search used.
        ranking: the best units of that layer, ``(unit, correlation)``.
        words: the notes' passage (:data:`~lstmkit.data.NOTES_EXAMPLE`), one word per step.
        c, f, i: the unit's cell state, forget and input gate at each word of the passage.
        change: index in ``words`` of the subject change, where the forget gate is lowest
            among "." "my" "brother" after the first answer.
        food: index in ``words`` of the second person's first food ("pasta").
    """

    cuisine: str
    layer: int
    unit: int
    correlation: float
    positions: int
    ranking: list[tuple[int, float]]
    words: list[str]
    c: list[float]
    f: list[float]
    i: list[float]
    change: int
    food: int

    @property
    def wiped(self) -> bool:
        """Whether the forget gate wipes the memory at the subject change (f < 0.5)."""
        return self.f[self.change] < 0.5

    def finding(self) -> str:
        """One sentence for the report: where the memory is and how it is replaced."""
        w, k, food = self.words, self.change, self.food
        held = np.mean(self.f[w.index("samosa") + 1 : w.index("INDIAN")])
        how = (
            f"wiped by the forget gate at {w[k]!r} (f = {self.f[k]:.2f}, i = {self.i[k]:.2f})"
            if self.wiped
            else f"not wiped at {w[k]!r} (f = {self.f[k]:.2f}, i = {self.i[k]:.2f}) but "
            "overwritten by the input gate"
        )
        return (
            f"Unit {self.unit} of layer {self.layer + 1} holds the keyword: its cell state tells "
            f"{self.cuisine} from the other cuisines with correlation {self.correlation:+.2f} "
            f"over {self.positions} positions of unseen passages. In the notes' passage the "
            f"forget gate keeps it through the filler (mean f = {held:.2f}); at the subject "
            f"change the memory is {how}, and the input gate writes the new food at "
            f"{w[food]!r} (i = {self.i[food]:.2f})."
        )


@torch.no_grad()
def keyword_memory(
    lm,
    passages: int | Sequence[Passage] = 300,
    cuisine: str | None = None,
    seed: int = 0,
    layer: int | None = None,
) -> KeywordMemory:
    """Search a ``keywords`` language model for the unit that holds the keyword.

    Every position from a person's food up to the "is" of their question is labelled with
    that person's cuisine; :func:`memory_units` ranks the units of each layer for ``cuisine``
    one-vs-rest, and the best is traced through the notes' passage.

    Args:
        lm: a fitted :class:`~lstmkit.lm.LanguageModel` (word tokenizer, LSTM cell) trained on
            the ``keywords`` corpus.
        passages: held-out passages, or how many to generate with
            ``generate_passages(n, f"keywords-memory-{seed}")`` (unseen in training).
        cuisine: the cuisine to find (:data:`~lstmkit.data.CUISINES`); default the one whose
            best unit correlates most.
        seed: the generated passages' seed.
        layer: the layer to search (0-based); default every layer.

    Raises:
        UserError: naming ``cuisine`` or ``layer`` when unknown, ``lm`` when its tokenizer is
            not word-level, or as :func:`memory_units`.

    Example (the quickstart's model)::

        found = keyword_memory(LanguageModel.load("runs/quickstart"), cuisine="INDIAN")
        found.unit, found.correlation, found.f[found.change]
    """
    if lm.tokenizer_.kind != "word":
        raise UserError(f"lm: the keyword search reads one token per word; expected a word "
                        f"tokenizer, got {lm.tokenizer_.kind!r}")  # fmt: skip
    if cuisine is not None and cuisine not in CUISINES:
        raise UserError(f"cuisine: expected one of {', '.join(CUISINES)}, got {cuisine!r}")
    layers = len(lm.model_.layers)
    if layer is not None and not (isinstance(layer, int) and 0 <= layer < layers):
        raise UserError(f"layer: expected an integer in [0, {layers}), got {layer!r}")
    if isinstance(passages, int):
        passages = generate_passages(passages, f"keywords-memory-{seed}")
    cells, labels = probe_cells(lm, passages)  # per layer (N, H), N labels
    best = None
    for k in range(layers) if layer is None else [layer]:
        for name in CUISINES if cuisine is None else [cuisine]:
            if name not in labels:
                continue
            ranking = memory_units(cells[k], labels, name)
            if best is None or abs(ranking[0][1]) > abs(best[2][0][1]):
                best = (k, name, ranking)
    if best is None:
        raise UserError(f"cuisine: no passage names {cuisine!r}; give more passages")
    k, name, ranking = best
    return _follow(lm, k, name, ranking, sum(label is not None for label in labels))


def probe_cells(lm, passages: Sequence[Passage]) -> tuple[list[np.ndarray], list[str]]:
    """Cell states of every layer at the labelled positions of ``passages``, and the labels.

    Returns:
        Per layer an (N, H) array, and N cuisines: position j of a passage is labelled with
        the cuisine of the question whose food it follows, from the food up to the "is".
    """
    model, tok = lm.model_, lm.tokenizer_
    model.eval()
    device = next(model.parameters()).device
    cells: list[list[np.ndarray]] = [[] for _ in model.layers]
    labels: list[str] = []
    for start in range(0, len(passages), PROBE_BATCH):
        batch = passages[start : start + PROBE_BATCH]
        ids = [tok.encode(p.text) for p in batch]
        T = max(len(x) for x in ids)
        padded = torch.tensor([x + [tok.eos_id] * (T - len(x)) for x in ids], device=device)
        with recording(*model.layers) as calls:
            model(padded)  # (B, T) → padding only follows the real tokens
        rows, steps = [], []
        for b, p in enumerate(batch):
            for answer in p.answers:
                span = range(answer.food_position + 1, answer.position)
                rows += [b] * len(span)
                steps += list(span)
                labels += [answer.cuisine] * len(span)
        for k, call in enumerate(calls):
            cells[k].append(call[0].c[0, rows, steps].cpu().numpy())  # (n, H)
    return [np.concatenate(c) for c in cells], labels


def _follow(lm, layer: int, cuisine: str, ranking, positions: int) -> KeywordMemory:
    """The chosen unit through the notes' passage."""
    model, tok = lm.model_, lm.tokenizer_
    words = NOTES_EXAMPLE.split()
    ids = torch.tensor([tok.encode(NOTES_EXAMPLE)], device=next(model.parameters()).device)
    with recording(*model.layers) as calls:
        model(ids)
    trace = calls[layer][0]
    unit = ranking[0][0]
    c, f, i = (getattr(trace, q)[0, 0, :, unit].tolist() for q in "cfi")  # (T,) each
    first = words.index("INDIAN")
    window = range(first + 1, words.index("brother") + 1)  # ". my brother"
    change = min(window, key=lambda k: f[k])
    food = next(k for k in range(first + 1, len(words)) if words[k] in FOOD_CUISINE)
    return KeywordMemory(cuisine, layer, unit, ranking[0][1], positions, ranking, words, c, f, i,
                         change, food)  # fmt: skip


def add_keyword_memory(trace: dict, lm, label: str | None = None, seed: int = 0) -> KeywordMemory:
    """Adds the keyword search to an :func:`~lstmkit.inspect.traces.lm_trace` trace: the unit's
    cell state over the trace's text in ``memory``, the finding in ``findings``."""
    found = keyword_memory(lm, cuisine=label, seed=seed)
    lstm = next(p for p in trace["panels"] if p["name"] == "lstm")
    for unit, r in found.ranking[:3]:
        trace["memory"].append({
            "label": found.cuisine, "panel": "lstm", "layer": found.layer, "direction": 0,
            "unit": unit, "correlation": r,
            "trace": lstm["quantities"]["c"][found.layer, :, unit].astype(float).tolist(),
        })  # fmt: skip
    trace["findings"].insert(0, found.finding())
    return found


__all__ = ["KeywordMemory", "add_keyword_memory", "keyword_memory", "memory_units", "probe_cells"]
