"""Attention: each score against its formula written out here, masking, gradients."""

import pytest
import torch
from torch.autograd import gradcheck

from lstmkit.models.attention import BahdanauAttention, LuongAttention, Memory

B, S, Q, M = 3, 5, 4, 6
LENGTHS = [5, 2, 3]


def batch(dtype=torch.float32):
    gen = torch.Generator().manual_seed(1)
    query = torch.randn(B, Q, generator=gen, dtype=dtype)
    states = torch.randn(B, S, M, generator=gen, dtype=dtype)
    mask = torch.arange(S).unsqueeze(0) < torch.tensor(LENGTHS).unsqueeze(1)
    return query, states, mask


def masked_softmax_by_hand(scores, lengths):
    """Softmax over each row's first ``length`` scores, zeros after: exp / sum, no masking op."""
    weights = torch.zeros_like(scores)
    for b, n in enumerate(lengths):
        e = torch.exp(scores[b, :n] - scores[b, :n].max())
        weights[b, :n] = e / e.sum()
    return weights


def expected_scores(attn, query, states):
    """Each score from its paper's formula, one source position at a time."""
    scores = torch.empty(B, S, dtype=query.dtype)
    for b in range(B):
        for s in range(S):
            q, k = query[b], states[b, s]
            if isinstance(attn, BahdanauAttention):
                hidden = torch.tanh(attn.query_layer.weight @ q + attn.key_layer.weight @ k)
                scores[b, s] = attn.v.weight[0] @ hidden
            elif attn.score_name == "general":
                scores[b, s] = q @ (attn.key_layer.weight @ k)
            else:
                scores[b, s] = q @ k
    return scores


@pytest.mark.parametrize("kind", ["bahdanau", "dot", "general"])
def test_context_and_weights_match_the_formula(kind):
    attn = {
        "bahdanau": lambda: BahdanauAttention(Q, M, attention_size=7),
        "dot": lambda: LuongAttention(M, M, "dot"),
        "general": lambda: LuongAttention(Q, M, "general"),
    }[kind]()
    query, states, mask = batch()
    if kind == "dot":
        query = torch.randn(B, M)
    context, weights = attn(query, attn.keys(states), states, mask)
    want_w = masked_softmax_by_hand(expected_scores(attn, query, states), LENGTHS)
    want_c = torch.stack([want_w[b] @ states[b] for b in range(B)])
    torch.testing.assert_close(weights, want_w)
    torch.testing.assert_close(context, want_c)
    torch.testing.assert_close(weights.sum(-1), torch.ones(B))
    assert torch.all(weights[~mask] == 0)


def test_padded_states_do_not_change_the_result():
    attn = BahdanauAttention(Q, M)
    query, states, mask = batch()
    noisy = states.masked_fill(~mask.unsqueeze(-1), 0) + 100 * (~mask).unsqueeze(-1)
    a = attn(query, attn.keys(states), states, mask)
    b = attn(query, attn.keys(noisy), noisy, mask)
    torch.testing.assert_close(a, b)


def test_many_queries_equal_one_at_a_time():
    attn = LuongAttention(Q, M)
    _, states, mask = batch()
    queries = torch.randn(B, 4, Q)
    context, weights = attn(queries, attn.keys(states), states, mask)
    for t in range(4):
        c, w = attn(queries[:, t], attn.keys(states), states, mask)
        torch.testing.assert_close(context[:, t], c)
        torch.testing.assert_close(weights[:, t], w)


@pytest.mark.parametrize("kind", ["bahdanau", "general"])
def test_gradcheck(kind):
    attn = (BahdanauAttention(Q, M) if kind == "bahdanau" else LuongAttention(Q, M)).double()
    query, states, mask = batch(torch.float64)
    query.requires_grad_()
    states.requires_grad_()
    params = list(attn.parameters())

    def fn(q, s, *_):
        return attn(q, attn.keys(s), s, mask)

    assert gradcheck(fn, (query, states, *params), eps=1e-6, atol=1e-6)


def test_memory_select_picks_rows():
    _, states, mask = batch()
    memory = Memory(states, states * 2, mask).select(torch.tensor([2, 2, 0]))
    assert torch.equal(memory.states[1], states[2])
    assert torch.equal(memory.keys[2], 2 * states[0])
    assert torch.equal(memory.mask[0], mask[2])


def test_luong_errors_name_the_argument():
    with pytest.raises(ValueError, match="score: expected one of"):
        LuongAttention(Q, M, "concat")
    with pytest.raises(
        ValueError, match="score: 'dot' needs query_size == memory_size, got 4 and 6"
    ):
        LuongAttention(Q, M, "dot")
