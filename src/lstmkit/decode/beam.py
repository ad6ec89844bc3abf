"""Beam search, batched: the Z hypotheses of all B sentences advance in one decode step.

At each step every live hypothesis is extended by every token and per sentence the best 2Z
candidates are taken. Those among the best Z that end with eos join the sentence's finished list
(so a beam of 1 is greedy decoding); at most Z of the 2Z end with eos, so the best Z others
stay in the beam. Finished hypotheses are scored with GNMT's length penalty (Wu et al. 2016)::

    score(Y) = log p(Y | X) / lp(Y),    lp(Y) = ((5 + |Y|) / 6) ** alpha

(|Y| counts eos). A sentence is done when no live hypothesis can still beat its n-th best
finished one — log-probabilities only fall as a hypothesis grows, so a live one's best
reachable score is its score over the largest lp — or at its length limit.

Legend: B batch, Z beam_size (hypotheses kept per sentence), S source length, V vocabulary.
"""

from __future__ import annotations

import torch
from torch import Tensor

from lstmkit.decode.greedy import Hypothesis, evaluating, max_lengths, next_log_probs
from lstmkit.models.seq2seq import Seq2Seq


def length_penalty(length: int, alpha: float) -> float:
    """GNMT's ``((5 + length) / 6) ** alpha``; 1 for alpha = 0."""
    return ((5 + length) / 6) ** alpha


def _check(beam_size: int, n_best: int, alpha: float) -> None:
    if isinstance(beam_size, bool) or not isinstance(beam_size, int) or beam_size < 1:
        raise ValueError(f"beam_size: expected a positive integer, got {beam_size!r}")
    if isinstance(n_best, bool) or not isinstance(n_best, int) or not 1 <= n_best <= beam_size:
        raise ValueError(
            f"n_best: expected an integer in [1, beam_size={beam_size}], got {n_best!r}"
        )
    if not alpha >= 0:
        raise ValueError(f"length_penalty: expected a value >= 0, got {alpha!r}")


def beam_search(
    model: Seq2Seq,
    src: Tensor,
    src_lengths: Tensor,
    beam_size: int = 5,
    max_len_ratio: float | None = 2.0,
    max_len: int | None = 100,
    length_penalty: float = 0.0,
    n_best: int = 1,
) -> list[list[Hypothesis]]:
    """The ``n_best`` best outputs of each sentence that a beam of ``beam_size`` finds.

    Args:
        model: the model (run in eval mode without gradients; its mode is restored).
        src: (B, S) source ids; src_lengths: (B,) their true lengths.
        beam_size: Z, the hypotheses kept per sentence.
        max_len_ratio: at most ``ceil(ratio * source length)`` output tokens (eos excluded);
            None for no such limit.
        max_len: at most this many output tokens; None for no such limit.
        length_penalty: GNMT's alpha (0: plain log-probability; about 0.6 for translation).
        n_best: how many hypotheses to return per sentence, at most ``beam_size``.

    Returns:
        Per sentence, its ``n_best`` :class:`Hypothesis` best first (fewer if fewer exist).

    Raises:
        ValueError: naming the argument that is out of range.

    Example:
        >>> from lstmkit.models.seq2seq import Seq2SeqConfig, build_seq2seq
        >>> model = build_seq2seq(Seq2SeqConfig(10, 10, embedding_size=4, hidden_size=4))
        >>> src, lengths = torch.randint(4, 10, (2, 5)), torch.tensor([5, 2])
        >>> out = beam_search(model, src, lengths, beam_size=3, n_best=2)
        >>> len(out), len(out[0]), out[0][0].score >= out[0][1].score
        (2, 2, True)
    """
    _check(beam_size, n_best, length_penalty)
    with evaluating(model):
        return _search(
            model, src, src_lengths, beam_size, max_len_ratio, max_len, length_penalty, n_best
        )


def _search(model, src, src_lengths, Z, max_len_ratio, max_len, alpha, n_best):
    B, device = src.shape[0], src.device
    memory, state = model.encode(src, src_lengths)
    rows = torch.arange(B, device=device).repeat_interleave(Z)  # (B*Z,) sentence of each row
    memory, state = memory.select(rows), state.select(rows)
    limits = max_lengths(src_lengths, max_len, max_len_ratio)  # (B,)
    scores = torch.full((B, Z), -torch.inf, device=device)
    scores[:, 0] = 0  # one live hypothesis per sentence at first: the others are copies
    tokens = torch.full((B * Z,), model.bos_id, dtype=torch.long, device=device)
    history = tokens.new_zeros(B * Z, 0)  # (B*Z, t) the output so far
    attention = None  # (B*Z, t, S) the attention weights so far
    if model.attention is not None:
        attention = memory.states.new_zeros(B * Z, 0, memory.states.shape[1])
    finished: list[list[Hypothesis]] = [[] for _ in range(B)]
    done = torch.zeros(B, dtype=torch.bool)
    first_row = torch.arange(B, device=device).unsqueeze(1) * Z  # (B, 1)
    for t in range(int(limits.max()) + 1):
        logits, state = model.decode_step(tokens, state, memory)
        at_limit = (t >= limits).repeat_interleave(Z)
        logp = next_log_probs(model, logits, at_limit)  # (B*Z, V)
        V = logp.shape[-1]
        candidates = (scores.view(B * Z, 1) + logp).view(B, Z * V)
        top, index = candidates.topk(min(2 * Z, Z * V), dim=1)  # (B, 2Z)
        source = first_row + torch.div(index, V, rounding_mode="floor")  # (B, 2Z) row in B*Z
        token = index % V
        # An eos among the best Z candidates ends a hypothesis (fairseq's rule: so Z=1 is greedy).
        in_beam = torch.arange(top.shape[1], device=device) < Z  # (2Z,)
        ends = (token == model.eos_id) & top.isfinite() & in_beam & ~done.to(device).unsqueeze(1)
        for b, j in ends.nonzero().tolist():
            row = int(source[b, j])
            weights = None
            if attention is not None:  # this sentence's own source positions
                weights = torch.cat([attention[row], state.weights[row].unsqueeze(0)])
                weights = weights[:, : int(memory.mask[row].sum())].cpu()  # memory's own length
            score = float(top[b, j]) / length_penalty(t + 1, alpha)
            finished[b].append(Hypothesis(history[row].tolist(), score, weights))
        # The best Z candidates that do not end go on (dead ones, at -inf, sort last).
        scores, keep = top.masked_fill(token == model.eos_id, -torch.inf).topk(Z, dim=1)
        chosen = source.gather(1, keep).view(-1)  # (B*Z,)
        tokens = token.gather(1, keep).view(-1)
        state = state.select(chosen)
        history = torch.cat([history[chosen], tokens.unsqueeze(1)], 1)
        if attention is not None:
            attention = torch.cat([attention[chosen], state.weights.unsqueeze(1)], 1)
        done |= _sentences_done(finished, scores.cpu(), limits, t, alpha, n_best)
        scores = scores.masked_fill(done.to(device).unsqueeze(1), -torch.inf)
        if done.all():
            break
    for hyps in finished:
        hyps.sort(key=lambda h: -h.score)
        del hyps[n_best:]
    return finished


def _sentences_done(finished, scores: Tensor, limits: Tensor, t: int, alpha: float, n_best: int):
    """(B,) True where no live hypothesis (scores (B, Z)) can beat the n-th best finished one."""
    done = t >= limits
    for b, hyps in enumerate(finished):
        # Scores are <= 0 and only fall as a hypothesis grows: the bound takes the largest lp.
        bound = float(scores[b].max()) / length_penalty(int(limits[b]) + 1, alpha)
        if bound == -torch.inf:
            done[b] = True
        elif len(hyps) >= n_best:
            nth = sorted((h.score for h in hyps), reverse=True)[n_best - 1]
            done[b] |= nth >= bound
    return done
