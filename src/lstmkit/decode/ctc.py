"""CTC decoding: the best path, and prefix beam search with optional word n-gram shallow fusion.

A CTC model gives, for each of T frames, log-probabilities over V tokens, one of them the blank.
An alignment (one token per frame) gives a labelling by merging repeated tokens, then dropping
blanks: ``a a - a`` gives ``a a``, so a repeated token needs a blank between. A labelling's
probability is the sum over its alignments (Graves et al. 2006).

:func:`ctc_greedy` takes the most probable token of each frame, the best path: batched and fast,
but the best path's labelling is not always the most probable one. :func:`ctc_prefix_beam_search`
keeps the ``beam_size`` most probable labelling prefixes frame by frame, each with the probability
of its alignments ending in a blank and of those ending in a token (Graves 2012, "Supervised
sequence labelling with recurrent neural networks", ch. 7; Hannun et al. 2014, "First-pass large
vocabulary continuous speech recognition using bi-directional recurrent DNNs"), and can add a word
language model's score each time a word is completed (shallow fusion).

Spans are frame indices of ``log_probs`` (multiply by the frame shift for seconds).

Legend: B batch, T time (frames), V vocabulary (the blank included).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import Tensor

from lstmkit.decode.ngram import NGramLM
from lstmkit.errors import UserError

NEG = -math.inf


class CTCHypothesis(NamedTuple):
    """One decoded labelling.

    Attributes:
        tokens: the token ids, repeats merged and blanks removed.
        score: :func:`ctc_greedy`: the best path's log-probability; :func:`ctc_prefix_beam_search`:
            the log-probability of the labelling summed over the alignments the beam kept, plus
            with a language model ``lm_weight * log p_LM(words, </s>) + word_bonus * words``.
        spans: for each token the first and last frame of its run of frames in one alignment:
            the best path (greedy), or the most probable single alignment of the labelling among
            those the beam kept (beam search); blank frames belong to no token.
    """

    tokens: list[int]
    score: float
    spans: list[tuple[int, int]]


def ctc_greedy(
    log_probs: Tensor, lengths: Tensor | Sequence[int] | None = None, blank: int = 0
) -> list[CTCHypothesis]:
    """Decode the best path: each frame's most probable token, repeats merged, blanks dropped.

    Args:
        log_probs: (B, T, V) or (T, V) per-frame log-probabilities (a log-softmax).
        lengths: (B,) frames of each row (default: all T).
        blank: the blank's token id (default 0).

    Returns:
        One :class:`CTCHypothesis` per row (a list of one for (T, V)); ties go to the lower id.

    Raises:
        UserError: a bad shape, NaN, lengths outside 0..T or a blank outside 0..V-1.

    Example:
        >>> log_probs = torch.tensor([[.1, .8, .1], [.1, .8, .1], [.8, .1, .1], [.1, .1, .8]]).log()
        >>> hyp = ctc_greedy(log_probs)[0]
        >>> hyp.tokens, hyp.spans, round(hyp.score, 4)
        ([1, 2], [(0, 1), (3, 3)], -0.8926)
    """
    lp = _check_log_probs(log_probs, (2, 3), "(B, T, V) or (T, V)", blank).detach()
    if lp.dim() == 2:
        lp = lp.unsqueeze(0)  # (1, T, V)
    B, T, _ = lp.shape
    lengths = _check_lengths(lengths, B, T).to(lp.device)
    best, ids = lp.max(-1)  # (B, T) each, the first maximum's id on ties
    frames = torch.arange(T, device=lp.device)
    valid = frames < lengths[:, None]  # (B, T)
    scores = best.double().masked_fill(~valid, 0).sum(1).tolist()
    edge = ids.new_full((B, 1), -1)
    before = torch.cat([edge, ids], 1)[:, :T]  # (B, T) the previous frame's id
    after = torch.cat([ids, edge], 1)[:, 1:]  # (B, T) the next frame's id
    emitted = (ids != blank) & valid
    starts = emitted & (ids != before)
    ends = emitted & ((ids != after) | (frames == lengths[:, None] - 1))
    tokens = ids[starts].tolist()
    first = starts.nonzero()[:, 1].tolist()
    last = ends.nonzero()[:, 1].tolist()
    out, k = [], 0
    for b, count in enumerate(starts.sum(1).tolist()):
        spans = list(zip(first[k : k + count], last[k : k + count], strict=True))
        out.append(CTCHypothesis(tokens[k : k + count], scores[b], spans))
        k += count
    return out


def ctc_prefix_beam_search(
    log_probs: Tensor,
    beam_size: int = 8,
    blank: int = 0,
    *,
    token_text: Sequence[str] | None = None,
    lm: NGramLM | None = None,
    lm_weight: float = 0.5,
    word_bonus: float = 1.0,
    token_prune: float | None = -10.0,
    top_k: int | None = None,
    n_best: int = 1,
) -> list[CTCHypothesis]:
    """The most probable labellings that a CTC prefix beam search finds, with optional shallow
    fusion of a word language model.

    Each frame extends every kept prefix by the blank, by its last token again (the same prefix)
    and by each candidate token, adding up the probabilities of alignments that reach the same
    prefix; the ``beam_size`` prefixes with the best score go on. With a language model, a word
    is complete when a space follows a non-space (``token_text``: characters, where ``" "`` is a
    space, or SentencePiece pieces, where ``"▁"`` is a space before the piece) and at the end;
    each completed word adds ``lm_weight * log p_LM(word | words before) + word_bonus`` to its
    prefix's score, and the end adds ``lm_weight * log p_LM(</s> | words)``. A word still being
    spelled is not scored until it is complete.

    Args:
        log_probs: (T, V) per-frame log-probabilities (a log-softmax) of one utterance.
        beam_size: the prefixes kept after each frame (default 8).
        blank: the blank's token id (default 0).
        token_text: the text of each of the V tokens (needed with ``lm``; give "" to tokens that
            write nothing).
        lm: a word language model for shallow fusion, or None.
        lm_weight: the language model's weight (default 0.5).
        word_bonus: added per completed word, against the model's bias to short outputs
            (default 1.0).
        token_prune: at each frame only tokens with a log-probability above it extend prefixes
            (default -10.0); None for no threshold. The blank and the repeat of a prefix's last
            token are always followed.
        top_k: also only the ``top_k`` most probable tokens of each frame (blank excluded); None
            (default) for all.
        n_best: how many hypotheses to return, at most ``beam_size`` (default 1).

    Returns:
        Up to ``n_best`` :class:`CTCHypothesis`, best score first.

    Raises:
        UserError: naming the argument that is out of range or malformed.

    Example:
        >>> log_probs = torch.tensor([[0.6, 0.4], [0.55, 0.45]]).log()  # the best path: blanks
        >>> [hyp] = ctc_prefix_beam_search(log_probs)  # but token 1 has 3 alignments
        >>> hyp.tokens, round(math.exp(hyp.score), 4), hyp.spans  # the best one: blank, 1
        ([1], 0.67, [(1, 1)])
    """
    lp = _check_log_probs(log_probs, (2,), "(T, V)", blank).detach().to("cpu", torch.float64)
    V = lp.shape[1]
    _check_search(V, beam_size, n_best, token_text, lm, lm_weight, word_bonus, token_prune, top_k)
    prefixes = _Prefixes(V, token_text, lm, lm_weight, word_bonus)
    # blank-ending and token-ending log-probabilities (sums over alignments), then the same for
    # the best single alignment, then that alignment's spans: (earlier spans, start, end).
    beam: dict[int, list] = {0: [0.0, NEG, 0.0, NEG, None, None]}
    for t, (row, candidates) in enumerate(_frames(lp, blank, token_prune, top_k)):
        beam = _step(beam, t, row, candidates, row[blank], prefixes)
        if len(beam) > beam_size:
            bonus = prefixes.bonus
            kept = heapq.nlargest(
                beam_size, beam.items(), key=lambda kv: _logadd(kv[1][0], kv[1][1]) + bonus[kv[0]]
            )
            beam = dict(kept)
    hyps = [prefixes.hypothesis(node, entry) for node, entry in beam.items()]
    hyps = [hyp for hyp in hyps if hyp.score > NEG]
    hyps.sort(key=lambda hyp: -hyp.score)
    return hyps[:n_best]


def _step(beam: dict, t: int, row: list[float], candidates: list, lb: float, prefixes) -> dict:
    """The beam after frame ``t`` (log-probabilities ``row``, blank ``lb``): Graves' recursion
    for each prefix's sums, and the same with max for its best alignment."""
    out: dict[int, list] = {}
    last_token, children, child = prefixes.token, prefixes.children, prefixes.child
    for node, (pb, pnb, vb, vnb, sb, snb) in beam.items():
        total = _logadd(pb, pnb)
        v, s = (vb, sb) if vb >= vnb else (vnb, snb)  # the best alignment so far
        e = out.get(node)
        if e is None:
            e = out[node] = [NEG, NEG, NEG, NEG, None, None]
        e[0] = _logadd(e[0], total + lb)  # a blank: the same prefix, now ending in blank
        if v + lb > e[2]:
            e[2], e[4] = v + lb, s
        last = last_token[node]
        if last >= 0 and pnb > NEG:  # the last token again, no blank between: the same prefix
            lc = row[last]
            e[1] = _logadd(e[1], pnb + lc)
            if vnb + lc > e[3]:
                e[3], e[5] = vnb + lc, (snb[0], snb[1], t)
        for c, lc in candidates:
            if c == last:  # a new token equal to the last one needs a blank between
                p, from_v, from_s = pb + lc, vb + lc, sb
            else:
                p, from_v, from_s = total + lc, v + lc, s
            if p == NEG:
                continue
            key = node * prefixes.V + c
            new = children[key] if key in children else child(node, c, key)
            f = out.get(new)
            if f is None:
                f = out[new] = [NEG, NEG, NEG, NEG, None, None]
            f[1] = _logadd(f[1], p)
            if from_v > f[3]:
                f[3], f[5] = from_v, (from_s, t, t)
    return out


def _logadd(a: float, b: float) -> float:
    """log(exp(a) + exp(b)) without overflow."""
    if a < b:
        a, b = b, a
    if b == NEG:
        return a
    return a + math.log1p(math.exp(b - a))


class _Prefixes:
    """The prefixes met so far, as a tree: node 0 is the empty prefix, each other node its
    parent plus one token; a prefix's language model score is computed once, when it is made."""

    def __init__(self, V, token_text, lm, lm_weight, word_bonus) -> None:
        self.V = V
        self.parent, self.token = [-1], [-1]
        self.children: dict[int, int] = {}  # parent * V + token -> node
        self.bonus = [0.0]  # lm_weight * log p_LM + word_bonus of the completed words
        self.lm, self.lm_weight, self.word_bonus = lm, lm_weight, word_bonus
        if lm is not None:
            self.effects = [_text_effect(text) for text in token_text]
            self.lm_state = [lm.start()]
            self.partial = [""]  # the word being spelled

    def child(self, node: int, token: int, key: int) -> int:
        new = len(self.token)
        self.children[key] = new
        self.parent.append(node)
        self.token.append(token)
        bonus = self.bonus[node]
        if self.lm is not None:
            state, partial, effect = self.lm_state[node], self.partial[node], self.effects[token]
            if isinstance(effect, str):
                partial += effect
            else:
                first, middle, partial_after = effect
                for word in (partial + first, *middle):
                    if word:
                        log_prob, state = self.lm.advance(state, word)
                        bonus += self.lm_weight * log_prob + self.word_bonus
                partial = partial_after
            self.lm_state.append(state)
            self.partial.append(partial)
        self.bonus.append(bonus)
        return new

    def hypothesis(self, node: int, entry: list) -> CTCHypothesis:
        pb, pnb, vb, vnb, sb, snb = entry
        score = _logadd(pb, pnb) + self.bonus[node]
        if self.lm is not None:
            state = self.lm_state[node]
            if self.partial[node]:
                log_prob, state = self.lm.advance(state, self.partial[node])
                score += self.lm_weight * log_prob + self.word_bonus
            score += self.lm_weight * self.lm.finish(state)
        tokens = []
        while node > 0:
            tokens.append(self.token[node])
            node = self.parent[node]
        spans, link = [], sb if vb >= vnb else snb
        while link is not None:
            spans.append((link[1], link[2]))
            link = link[0]
        return CTCHypothesis(tokens[::-1], score, spans[::-1])


def _text_effect(text: str) -> str | tuple[str, tuple[str, ...], str]:
    """A token's effect on the words: text appended to the word being spelled, or (the end of
    that word, whole words, the start of the next) where the text holds a space."""
    text = text.replace("▁", " ")
    if " " not in text:
        return text
    parts = text.split(" ")
    return parts[0], tuple(part for part in parts[1:-1] if part), parts[-1]


def _frames(lp: Tensor, blank: int, token_prune: float | None, top_k: int | None):
    """Per frame its log-probabilities (a list) and the (token, log-prob) pairs that extend."""
    allowed = lp.isfinite()  # (T, V) a token of probability 0 is never emitted
    allowed[:, blank] = False
    if token_prune is not None:
        allowed &= lp > token_prune
    if top_k is not None and top_k < lp.shape[1] - 1:
        top = lp.index_fill(1, torch.tensor([blank]), NEG).topk(top_k, dim=1).indices  # (T, k)
        allowed &= torch.zeros_like(allowed).scatter_(1, top, True)
    rows = lp.tolist()
    candidates: list[list[tuple[int, float]]] = [[] for _ in rows]
    for t, c in allowed.nonzero().tolist():
        candidates[t].append((c, rows[t][c]))
    return zip(rows, candidates, strict=True)


def _check_log_probs(log_probs, dims: tuple[int, ...], shape: str, blank: int) -> Tensor:
    if not isinstance(log_probs, Tensor) or log_probs.dim() not in dims:
        got = tuple(log_probs.shape) if isinstance(log_probs, Tensor) else type(log_probs).__name__
        raise UserError(f"log_probs: expected a {shape} tensor, got {got}")
    if not log_probs.is_floating_point() or log_probs.shape[-1] < 2:
        raise UserError(
            f"log_probs: expected floats over V >= 2 tokens, got {log_probs.dtype} with "
            f"V={log_probs.shape[-1]}"
        )
    if log_probs.isnan().any():
        raise UserError("log_probs: expected log-probabilities, got NaN")
    V = log_probs.shape[-1]
    if isinstance(blank, bool) or not isinstance(blank, int) or not 0 <= blank < V:
        raise UserError(f"blank: expected a token id in 0..{V - 1}, got {blank!r}")
    return log_probs


def _check_lengths(lengths, B: int, T: int) -> Tensor:
    if lengths is None:
        return torch.full((B,), T, dtype=torch.long)
    lengths = torch.as_tensor(lengths).cpu()
    if lengths.shape != (B,) or lengths.is_floating_point() or lengths.dtype == torch.bool:
        raise UserError(
            f"lengths: expected ({B},) integers, got {lengths.dtype} {tuple(lengths.shape)}"
        )
    if B and (int(lengths.min()) < 0 or int(lengths.max()) > T):
        raise UserError(f"lengths: expected values in 0..{T}, got {lengths.tolist()}")
    return lengths.long()


def _check_search(V, beam_size, n_best, token_text, lm, lm_weight, word_bonus, prune, top_k):
    def positive(value) -> bool:
        return not isinstance(value, bool) and isinstance(value, int) and value >= 1

    if not positive(beam_size):
        raise UserError(f"beam_size: expected a positive integer, got {beam_size!r}")
    if not positive(n_best) or n_best > beam_size:
        raise UserError(f"n_best: expected an integer in 1..beam_size={beam_size}, got {n_best!r}")
    if top_k is not None and not positive(top_k):
        raise UserError(f"top_k: expected a positive integer or None, got {top_k!r}")
    if prune is not None and math.isnan(prune):
        raise UserError(f"token_prune: expected a log-probability or None, got {prune!r}")
    if token_text is not None and (isinstance(token_text, str) or len(token_text) != V):
        got = "a str" if isinstance(token_text, str) else f"{len(token_text)}"
        raise UserError(f"token_text: expected the text of each of V={V} tokens, got {got}")
    if lm is not None and token_text is None:
        raise UserError("token_text: expected the tokens' text to find words for lm, got None")
    for name, value in (("lm_weight", lm_weight), ("word_bonus", word_bonus)):
        if not math.isfinite(value):
            raise UserError(f"{name}: expected a finite number, got {value!r}")


__all__ = ["CTCHypothesis", "ctc_greedy", "ctc_prefix_beam_search"]
