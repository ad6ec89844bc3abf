"""Finding the memory: the LSTM units whose cell state holds a label, and how they change it.

:func:`memory_units` is the general search — how well each unit's cell value separates the
positions with a label from the others (one-vs-rest), over labelled positions.
:func:`keyword_memory` applies it to the built-in ``keywords`` task: every position from a food to
its question is labelled with that person's cuisine, and the unit whose memory best tells one
cuisine from the others is followed through the notes' two-person passage, where the memory must be
replaced at "my brother": a forget gate near 0 there wipes it, an input gate near 1 at the new food
writes the new one.

Legend: N positions, H hidden_size, T time, B batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from scipy.stats import rankdata

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
METHODS = ("rank_biserial", "pearson")
PROBE_BATCH = 64  # passages run together (padded at the end: the LSTM reads left to right)


def memory_units(
    cells: np.ndarray,
    labels: Sequence[str | None],
    target: str,
    top: int = 5,
    method: str = "rank_biserial",
) -> list[tuple[int, float]]:
    """The units whose cell value best tells positions labelled ``target`` from the others.

    For each unit, a correlation between its cell value and the indicator ``label == target``
    over the labelled positions (one-vs-rest); a unit that never changes scores 0.

    * ``"rank_biserial"`` (default): Glass's rank-biserial correlation, ``2 * AUC - 1``: +1 when
      every ``target`` position holds a higher value than every other position, -1 when lower,
      0 when the two overlap at random. It measures separation, which is what a memory unit
      does: a unit at +1 for one cuisine and anywhere from -4 to 0 for the five others
      separates it perfectly (+1), while Pearson's correlation is pulled down by the spread of
      the others (a multi-level code) and, with one cuisine in six, cannot reach 1 even then.
    * ``"pearson"``: the point-biserial (Pearson) correlation.

    Args:
        cells: (N, H) cell states at N positions.
        labels: N labels; None leaves a position out.
        target: the label to find.
        top: how many units to return.
        method: ``"rank_biserial"`` or ``"pearson"``.

    Returns:
        ``(unit, correlation)`` pairs, the largest ``|correlation|`` first.

    Raises:
        UserError: naming ``cells``, ``labels``, ``target`` or ``top`` when the shapes disagree,
            fewer than 3 positions are labelled, or no labelled position (or every one) is
            ``target``.

    Example:
        >>> cells = np.array([[0.0, 1.0], [0.1, 1.0], [1.0, 1.0], [0.9, 1.0]])
        >>> memory_units(cells, ["a", "a", "b", "b"], "b", top=2)
        [(0, 1.0), (1, 0.0)]
        >>> memory_units(cells, ["a", "a", "b", "b"], "b", top=1, method="pearson")
        [(0, 0.9938837346736189)]
    """
    return unit_rankings(cells, labels, [target], top, method)[target]


def unit_rankings(
    cells: np.ndarray,
    labels: Sequence[str | None],
    targets: Sequence[str],
    top: int = 5,
    method: str = "rank_biserial",
) -> dict[str, list[tuple[int, float]]]:
    """:func:`memory_units` for several targets at once: ``{target: [(unit, correlation)]}``.

    The cell values are ranked once for all targets (the ranks do not depend on the label), which
    is what makes the keyword search take seconds rather than a minute.

    Raises:
        UserError: as :func:`memory_units`, for the first target that fails.

    Example:
        >>> cells = np.array([[0.0, 1.0], [0.1, 1.0], [1.0, 1.0], [0.9, 1.0]])
        >>> unit_rankings(cells, ["a", "a", "b", "b"], ["a", "b"], top=1)
        {'a': [(0, -1.0)], 'b': [(0, 1.0)]}
    """
    cells = np.asarray(cells, dtype=np.float64)
    if cells.ndim != 2:
        raise UserError(f"cells: expected an (N, H) array, got shape {cells.shape}")
    if len(labels) != cells.shape[0]:
        raise UserError(
            f"labels: expected {cells.shape[0]} (one per row of cells), got {len(labels)}"
        )
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise UserError(f"top: expected a positive integer, got {top!r}")
    keep = np.array([label is not None for label in labels], dtype=bool)
    kept = np.array([label for label in labels if label is not None], dtype=object)
    if len(kept) < MIN_POSITIONS:
        raise UserError(
            f"labels: expected at least {MIN_POSITIONS} labelled positions, got {len(kept)}"
        )
    ys = {}
    for target in targets:
        y = (kept == target).astype(np.float64)  # (N',)
        if not 0 < y.sum() < len(y):
            which = "none" if y.sum() == 0 else "all"
            raise UserError(
                f"target: expected some labelled positions to be {target!r} and some "
                f"not, got {which} of {len(y)}"
            )
        ys[target] = y
    if method not in METHODS:
        raise UserError(f"method: expected one of {', '.join(METHODS)}, got {method!r}")
    x = cells[keep]  # (N', H)
    constant = np.ptp(x, axis=0) == 0
    ranks = None
    if method == "rank_biserial":
        # Ranked along the rows of the (H, N') transpose: a contiguous sort, a third faster.
        ranks = rankdata(np.ascontiguousarray(x.T), axis=1).T  # (N', H)
    found = {}
    for target, y in ys.items():
        r = _rank_biserial(ranks, y) if ranks is not None else _pearson(x, y)  # (H,)
        r[constant | ~np.isfinite(r)] = 0.0
        order = np.argsort(-np.abs(r), kind="stable")[:top]
        found[target] = [(int(u), float(r[u])) for u in order]
    return found


def _pearson(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson's correlation of each column of x (N, H) with y (N,): (H,)."""
    xc, yc = x - x.mean(0), y - y.mean()
    with np.errstate(divide="ignore", invalid="ignore"):
        return (yc @ xc) / np.sqrt((xc**2).sum(0) * (yc**2).sum())


def _rank_biserial(ranks: np.ndarray, y: np.ndarray) -> np.ndarray:
    """2 * AUC - 1 of each column for the positives y == 1, from the columns' ranks (N, H), ties
    sharing their average rank (Mann-Whitney U): (H,)."""
    n1 = y.sum()
    n0 = len(y) - n1
    auc = (ranks[y == 1].sum(0) - n1 * (n1 + 1) / 2) / (n1 * n0)
    return 2 * auc - 1


# ---------------------------------------------------------------------------- keywords
@dataclass(frozen=True)
class KeywordMemory:
    """The unit that holds the keyword, and what its gates do when the person changes.

    Attributes:
        cuisine: the label searched (one cuisine against the others).
        layer: the layer of the unit (0-based).
        unit: the unit.
        correlation: the rank-biserial correlation (:func:`memory_units`) of its cell state
            ``c`` with "the keyword is ``cuisine``" (see :func:`keyword_memory`).
        pearson: the same unit's Pearson (point-biserial) correlation, for comparison.
        positions: labelled positions the search used.
        ranking: the best units of that layer, ``(unit, correlation)``.
        per_cuisine: for each cuisine searched, its best ``(cuisine, layer, unit, correlation)``,
            the largest ``|correlation|`` first (this one's first).
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
    pearson: float
    positions: int
    ranking: list[tuple[int, float]]
    per_cuisine: list[tuple[str, int, int, float]]
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
        """A few sentences for the report: where the memory is and how it is replaced."""
        w, k, food = self.words, self.change, self.food
        held = np.mean(self.f[w.index("samosa") + 1 : w.index("INDIAN")])
        how = "wiped by the forget gate" if self.wiped else "kept: the forget gate stays open"
        text = (
            f"Unit {self.unit} of layer {self.layer} holds the keyword: its memory tells "
            f"{self.cuisine} from the other cuisines with correlation {self.correlation:+.2f} "
            f"(rank-biserial, 2 AUC - 1; Pearson {self.pearson:+.2f}) over {self.positions} "
            f"positions of "
            f"unseen passages. In the notes' passage the forget gate keeps it through the "
            f"filler (mean f = {held:.2f}); at the subject change, {w[k]!r}, it is {how} "
            f"(f = {self.f[k]:.2f}, i = {self.i[k]:.2f}), and the input gate writes the new food "
            f"at {w[food]!r} (i = {self.i[food]:.2f}, c from {self.c[food - 1]:+.2f} to "
            f"{self.c[food]:+.2f})."
        )
        if self.cuisine not in w:
            text += (
                f" Neither person of the passage likes {self.cuisine} food, so this unit "
                "need not change there."
            )
        return text


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

    The units are ranked by the rank-biserial correlation of their cell state ``c`` (how
    cleanly it separates the cuisine from the others; see :func:`memory_units`), and Pearson's
    is reported beside it: a unit can separate one cuisine perfectly (rank-biserial about +1)
    while Pearson's stays lower, pulled down by the spread of the other cuisines' values (the
    inspect page of the documentation has an example).

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
        raise UserError(
            f"lm: the keyword search reads one token per word; expected a word "
            f"tokenizer, got {lm.tokenizer_.kind!r}"
        )
    if cuisine is not None and cuisine not in CUISINES:
        raise UserError(f"cuisine: expected one of {', '.join(CUISINES)}, got {cuisine!r}")
    layers = len(lm.model_.layers)
    if layer is not None and not (isinstance(layer, int) and 0 <= layer < layers):
        raise UserError(f"layer: expected an integer in [0, {layers}), got {layer!r}")
    if isinstance(passages, int):
        passages = generate_passages(passages, f"keywords-memory-{seed}")
    cells, labels = probe_cells(lm, passages)  # per layer (N, H), N labels
    found = _best_units(
        cells,
        labels,
        list(CUISINES) if cuisine is None else [cuisine],
        range(layers) if layer is None else [layer],
    )
    if not found:
        raise UserError(f"cuisine: no passage names {cuisine!r}; give more passages")
    k, name, ranking = found[0]
    every = memory_units(cells[k], labels, name, top=cells[k].shape[1], method="pearson")
    raw = dict(every)[ranking[0][0]]
    per_cuisine = [(c, layer_c, r[0][0], r[0][1]) for layer_c, c, r in found]
    return _follow(lm, k, name, ranking, raw, len(labels), per_cuisine)


def _best_units(
    cells: list[np.ndarray], labels: list[str], cuisines: list[str], layers
) -> list[tuple[int, str, list[tuple[int, float]]]]:
    """Per cuisine that the labels hold, its best layer and that layer's ranking of units on
    ``c``; the cuisine with the largest ``|correlation|`` first."""
    present = set(labels)
    names = [c for c in cuisines if c in present]
    per_layer = [(k, unit_rankings(cells[k], labels, names)) for k in layers]
    found = []
    for name in names:
        k, ranking = max(((k, r[name]) for k, r in per_layer), key=lambda kr: abs(kr[1][0][1]))
        found.append((k, name, ranking))
    return sorted(found, key=lambda f: -abs(f[2][0][1]))


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


def _follow(
    lm, layer: int, cuisine: str, ranking, raw: float, positions: int, per_cuisine
) -> KeywordMemory:
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
    return KeywordMemory(
        cuisine,
        layer,
        unit,
        ranking[0][1],
        raw,
        positions,
        ranking,
        per_cuisine,
        words,
        c,
        f,
        i,
        change,
        food,
    )


def add_keyword_memory(trace: dict, lm, label: str | None = None, seed: int = 0) -> KeywordMemory:
    """Adds the keyword search to an :func:`~lstmkit.inspect.traces.lm_trace` trace.

    ``memory`` gets, with the trace's text, the cell state of the 3 best units for ``label``
    or, without one, of each cuisine's best unit; ``findings`` starts with the search's.
    """
    found = keyword_memory(lm, cuisine=label, seed=seed)
    if label is None:
        units = found.per_cuisine
    else:
        units = [(found.cuisine, found.layer, u, r) for u, r in found.ranking[:3]]
    c = next(p for p in trace["panels"] if p["name"] == "lstm")["quantities"]["c"]  # (L, T, H)
    for cuisine, layer, unit, r in units:
        trace["memory"].append(
            {
                "label": cuisine,
                "panel": "lstm",
                "layer": layer,
                "direction": 0,
                "unit": unit,
                "correlation": r,
                "trace": c[layer, :, unit].astype(float).tolist(),
            }
        )
    trace["findings"].insert(0, found.finding())
    return found


__all__ = [
    "KeywordMemory",
    "add_keyword_memory",
    "keyword_memory",
    "memory_units",
    "probe_cells",
    "unit_rankings",
]
