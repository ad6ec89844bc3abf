"""CTC decoders against brute force: every alignment of a tiny input enumerated and collapsed, the
labellings' exact probabilities summed (and torch's ctc_loss); greedy against the argmax path."""

import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from lstmkit.decode.ctc import CTCHypothesis, ctc_greedy, ctc_prefix_beam_search
from lstmkit.decode.ngram import NGramLM
from lstmkit.errors import UserError


def collapse(path, blank):
    """Labelling and spans of one alignment: merge runs, drop blanks."""
    tokens, spans = [], []
    for t, token in enumerate(path):
        if token != blank and (t == 0 or path[t - 1] != token):
            tokens.append(token)
            spans.append([t, t])
        elif token != blank:
            spans[-1][1] = t
    return tuple(tokens), [tuple(span) for span in spans]


def brute_force(log_probs, blank):
    """{labelling: (log p summed over alignments, spans of its most probable alignment)}."""
    T, V = log_probs.shape
    lp = log_probs.double().tolist()
    sums, best = {}, {}
    for path in itertools.product(range(V), repeat=T):
        tokens, spans = collapse(path, blank)
        p = math.exp(sum(lp[t][token] for t, token in enumerate(path)))
        sums[tokens] = sums.get(tokens, 0.0) + p
        if p > best.get(tokens, (-1, None))[0]:
            best[tokens] = (p, spans)
    return {tokens: (math.log(p), best[tokens][1]) for tokens, p in sums.items()}


def random_log_probs(T, V, scale=2.0):
    return (torch.randn(T, V, dtype=torch.float64) * scale).log_softmax(-1)


def ctc_log_prob(log_probs, tokens, blank=0):
    """log p(labelling) by torch's CTC loss: -ctc_loss over the whole (T, V) input."""
    loss = F.ctc_loss(
        log_probs[:, None],  # (T, 1, V)
        torch.tensor(tokens, dtype=torch.long),
        [log_probs.shape[0]],
        [len(tokens)],
        blank=blank,
        reduction="sum",
    )
    return -float(loss)


@pytest.mark.parametrize(
    ("T", "V", "blank"), [(1, 3, 0), (3, 3, 0), (4, 4, 0), (5, 3, 2), (5, 4, 1)]
)
def test_an_unpruned_wide_beam_finds_the_exact_labelling_distribution(T, V, blank):
    for _ in range(3):
        log_probs = random_log_probs(T, V)
        exact = sorted(brute_force(log_probs, blank).items(), key=lambda kv: -kv[1][0])
        hyps = ctc_prefix_beam_search(
            log_probs, beam_size=max(V**T, 5), blank=blank, token_prune=None, n_best=5
        )
        assert len(hyps) == min(5, len(exact))
        for hyp, (tokens, (log_p, spans)) in zip(hyps, exact, strict=False):
            assert tuple(hyp.tokens) == tokens
            assert hyp.score == pytest.approx(log_p, abs=1e-9)
            assert hyp.spans == spans
            assert hyp.score == pytest.approx(ctc_log_prob(log_probs, tokens, blank), abs=1e-9)


def test_a_narrow_beam_keeps_the_scores_of_the_alignments_it_kept():
    log_probs = random_log_probs(12, 5, scale=3.0)
    [hyp] = ctc_prefix_beam_search(log_probs, beam_size=4, token_prune=None)
    exact = ctc_log_prob(log_probs, hyp.tokens)
    assert exact - 1.0 < hyp.score <= exact + 1e-9  # a part of the labelling's alignments


def test_greedy_collapses_the_argmax_of_each_frame():
    log_probs = torch.randn(3, 9, 4).log_softmax(-1)
    lengths = [9, 4, 0]
    hyps = ctc_greedy(log_probs, torch.tensor(lengths))
    for b, hyp in enumerate(hyps):
        rows = log_probs[b, : lengths[b]].tolist()
        path = [max(range(4), key=row.__getitem__) for row in rows]
        tokens, spans = collapse(path, 0)
        assert (hyp.tokens, hyp.spans) == (list(tokens), spans)
        assert hyp.score == pytest.approx(sum(max(row) for row in rows), abs=1e-5)
    assert ctc_greedy(log_probs[1, :4]) == [hyps[1]]  # (T, V): a list of one


def one_hot_log_probs(path, V, p=0.9):
    """(T, V) with the path's token at probability p each frame, the rest shared evenly."""
    probs = torch.full((len(path), V), (1 - p) / (V - 1))
    probs[torch.arange(len(path)), torch.tensor(path)] = p
    return probs.log()


def test_greedy_spans_on_a_hand_built_path():
    path = [1, 1, 0, 1, 2, 2, 0, 0, 2]
    log_probs = one_hot_log_probs(path, 3)[None].expand(2, -1, -1)
    full, cut = ctc_greedy(log_probs, [9, 5])
    assert full.tokens == [1, 1, 2, 2]
    assert full.spans == [(0, 1), (3, 3), (4, 5), (8, 8)]
    assert full.score == pytest.approx(9 * math.log(0.9))
    assert cut.tokens == [1, 1, 2]
    assert cut.spans == [(0, 1), (3, 3), (4, 4)]  # the run is cut at the row's last frame
    assert cut.score == pytest.approx(5 * math.log(0.9))


def test_pruning_leaves_out_improbable_tokens():
    log_probs = torch.tensor([[0.0, -12.0, -30.0], [0.0, -30.0, -30.0]])
    log_probs = log_probs.log_softmax(-1)
    hyps = ctc_prefix_beam_search(log_probs, beam_size=4, n_best=4)
    assert [hyp.tokens for hyp in hyps] == [[]]  # token 1 (log p -12) is below -10
    hyps = ctc_prefix_beam_search(log_probs, beam_size=4, n_best=4, token_prune=None)
    assert [hyp.tokens for hyp in hyps][:2] == [[], [1]]
    log_probs = random_log_probs(6, 5)
    best = (log_probs[:, 1:].argmax(1) + 1).tolist()  # each frame's most probable token
    hyps = ctc_prefix_beam_search(log_probs, 16, token_prune=None, top_k=1, n_best=16)
    assert len(hyps) > 3
    for hyp in hyps:  # a token starts only where it is the most probable (it may go on after)
        assert all(
            best[start] == token for token, (start, _) in zip(hyp.tokens, hyp.spans, strict=True)
        )


CHARS = ["", " ", "a", "b", "c", "e", "h", "t"]  # token 0 the blank


def spell(text, ambiguous=None):
    """(T, V) log-probs spelling ``text`` one character a frame; ``ambiguous`` is a frame index
    where "b" is slightly more probable than "c"."""
    path = [CHARS.index(char) for char in text]
    probs = one_hot_log_probs(path, len(CHARS), p=0.95).exp()
    if ambiguous is not None:
        probs[ambiguous] = 0.01 / (len(CHARS) - 2)
        probs[ambiguous, CHARS.index("b")] = 0.5
        probs[ambiguous, CHARS.index("c")] = 0.49
    return probs.log()


def test_the_language_model_decides_between_acoustically_close_words():
    log_probs = spell("the bat", ambiguous=4)
    lm = NGramLM.train(["the cat", "the cat sat", "a cat"], order=2)

    def text(hyp):
        return "".join(CHARS[token] for token in hyp.tokens)

    [plain] = ctc_prefix_beam_search(log_probs, token_text=CHARS)
    assert text(plain) == "the bat"
    [fused] = ctc_prefix_beam_search(log_probs, token_text=CHARS, lm=lm, lm_weight=1.0)
    assert text(fused) == "the cat"
    want = plain.score - math.log(0.5) + math.log(0.49)  # acoustics of "the cat"
    want += lm.sentence_log_prob("the cat") + 2 * 1.0  # lm_weight 1, word_bonus 1 per word
    assert fused.score == pytest.approx(want, abs=1e-4)


def test_a_language_model_of_weight_zero_changes_nothing():
    lm = NGramLM.train(["a b", "c a b"], order=3)
    token_text = ["", " ", "a", "b", "c"]
    for _ in range(3):
        log_probs = random_log_probs(8, 5)
        plain = ctc_prefix_beam_search(log_probs, beam_size=6, n_best=6)
        kw = {"token_text": token_text, "lm_weight": 0.0, "word_bonus": 0.0}
        fused = ctc_prefix_beam_search(log_probs, beam_size=6, lm=lm, n_best=6, **kw)
        assert [(h.tokens, h.spans) for h in fused] == [(h.tokens, h.spans) for h in plain]
        assert [h.score for h in fused] == pytest.approx([h.score for h in plain])


class RecordingLM:
    """Scores every word -1 and </s> -2, and records the words and finished sentences."""

    def __init__(self):
        self.words, self.sentences = [], []

    def start(self):
        return ()

    def advance(self, state, word):
        self.words.append(word)
        return -1.0, (*state, word)

    def finish(self, state):
        self.sentences.append(state)
        return -2.0


def test_sentencepiece_pieces_make_words_at_their_spaces():
    pieces = ["<blank>", "▁the", "▁c", "at", "▁", "s"]
    path = [1, 0, 2, 3, 4, 5, 3]  # "▁the", blank, "▁c", "at", "▁", "s", "at": the cat sat
    lm = RecordingLM()
    log_probs = one_hot_log_probs(path, 6, p=0.99).double()
    kw = {"token_text": pieces, "lm": lm, "lm_weight": 0.5, "word_bonus": 2}
    [hyp] = ctc_prefix_beam_search(log_probs, beam_size=64, **kw)  # wide: every alignment
    assert hyp.tokens == [1, 2, 3, 4, 5, 3]
    assert ("the", "cat", "sat") in lm.sentences
    assert all(word and not {" ", "▁"} & set(word) for word in lm.words)
    acoustic = ctc_log_prob(log_probs, hyp.tokens)
    assert hyp.score == pytest.approx(acoustic + 3 * (0.5 * -1 + 2) + 0.5 * -2)


def test_empty_input_gives_the_empty_labelling():
    empty = torch.zeros(0, 3)
    assert ctc_prefix_beam_search(empty) == [CTCHypothesis([], 0.0, [])]
    assert ctc_greedy(empty) == [CTCHypothesis([], 0.0, [])]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: ctc_greedy(torch.zeros(5)), r"log_probs: expected a \(B, T, V\) or \(T, V\)"),
        (lambda: ctc_greedy(torch.zeros(2, 5, 3), [5, 6]), r"lengths: expected values in 0..5"),
        (lambda: ctc_greedy(torch.zeros(2, 5, 3), [5]), r"lengths: expected \(2,\) integers"),
        (lambda: ctc_greedy(torch.zeros(5, 3), blank=3), r"blank: expected a token id in 0..2"),
        (lambda: ctc_greedy(torch.full((5, 3), math.nan)), r"log_probs: expected .*got NaN"),
        (lambda: ctc_prefix_beam_search(torch.zeros(2, 5, 3)), r"log_probs: expected a \(T, V\)"),
        (lambda: ctc_prefix_beam_search(torch.zeros(5, 3), 0), r"beam_size: expected a positive"),
        (
            lambda: ctc_prefix_beam_search(torch.zeros(5, 3), 2, n_best=3),
            r"n_best: expected an integer in 1..beam_size=2, got 3",
        ),
        (
            lambda: ctc_prefix_beam_search(torch.zeros(5, 3), token_text=["", "a"]),
            r"token_text: expected the text of each of V=3 tokens, got 2",
        ),
        (
            lambda: ctc_prefix_beam_search(torch.zeros(5, 3), lm=RecordingLM()),
            r"token_text: expected the tokens' text",
        ),
        (lambda: ctc_prefix_beam_search(torch.zeros(5, 3), top_k=0), r"top_k: expected a posit"),
    ],
)
def test_mistakes_name_the_argument(call, message):
    with pytest.raises(UserError, match=message):
        call()
