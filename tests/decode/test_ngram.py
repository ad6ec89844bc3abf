"""The word n-gram model: Kneser-Ney by hand, normalisation by summing, ARPA files by the backoff
formula written out, malformed ARPA lines, and the write/read round trip."""

import itertools
import math
import random
from collections import Counter

import pytest

from lstmkit.decode.ngram import FALLBACK_DISCOUNTS, NGramLM
from lstmkit.errors import UserError

LN10 = math.log(10)
CORPUS = ["the cat sat", "the dog sat"]


def random_corpus(sentences=300, seed=0):
    rng = random.Random(seed)
    words = "a b c d e f".split()
    return [
        " ".join(rng.choice(words[: rng.randint(2, 6)]) for _ in range(rng.randint(1, 6)))
        for _ in range(sentences)
    ]


def test_bigram_probabilities_follow_kneser_ney_by_hand():
    lm = NGramLM.train(CORPUS, order=2, discounts=(0.5, 1.0, 1.5))
    # Unigram continuation counts (distinct words before): the 1 (<s>), cat 1, dog 1,
    # sat 2 (cat, dog), </s> 1; total 6. Discounts free 4 * 0.5 + 1 = 3, so gamma = 3/6, spread
    # uniformly over the 6 words the, cat, dog, sat, </s>, <unk>.
    uniform = 0.5 / 6
    assert math.exp(lm.log_prob("sat")) == pytest.approx((2 - 1) / 6 + uniform)
    assert math.exp(lm.log_prob("cat")) == pytest.approx(0.5 / 6 + uniform)
    assert math.exp(lm.log_prob("<unk>")) == pytest.approx(uniform)
    assert math.exp(lm.log_prob("never-seen")) == pytest.approx(uniform)
    p_the = 0.5 / 6 + uniform
    # Bigrams keep raw counts: <s> the 2, so (2 - D2) / 2 and gamma(<s>) = D2 / 2.
    assert math.exp(lm.log_prob("the", ("<s>",))) == pytest.approx((2 - 1) / 2 + 0.5 * p_the)
    # cat is followed by sat once: gamma(cat) = 0.5 / 1; an unseen bigram backs off.
    assert math.exp(lm.log_prob("dog", ("cat",))) == pytest.approx(0.5 * (0.5 / 6 + uniform))


def test_trigram_sentence_follows_kneser_ney_by_hand():
    lm = NGramLM.train(CORPUS, order=3, discounts=(0.5, 1.0, 1.5))
    # 1-grams as in the bigram test. 2-grams: <s> the 2 (raw: begins with <s>), the cat 1,
    # the dog 1, cat sat 1, dog sat 1 (continuation counts), sat </s> 2 (cat and dog before).
    p_cat = p_dog = p_the = 1 / 6
    p_sat, p_end = 1.5 / 6, 1 / 6
    p_the_bos = 1 / 2 + 1 / 2 * p_the
    p_cat_the = 0.5 / 2 + (0.5 + 0.5) / 2 * p_cat
    p_sat_cat = 0.5 / 1 + 0.5 / 1 * p_sat
    p_end_sat = (2 - 1) / 2 + 1 / 2 * p_end
    # 3-grams, raw counts, each once: <s> the cat, <s> the dog, the cat sat, cat sat </s>, ...
    p_cat_bos_the = 0.5 / 2 + 1.0 / 2 * p_cat_the
    p_sat_the_cat = 0.5 + 0.5 * p_sat_cat
    p_end_cat_sat = 0.5 + 0.5 * p_end_sat
    want = math.log(p_the_bos * p_cat_bos_the * p_sat_the_cat * p_end_cat_sat)
    assert lm.sentence_log_prob("the cat sat") == pytest.approx(want)
    # An unseen trigram backs off twice: gamma(cat sat) * gamma(sat) * p(dog).
    assert math.exp(lm.log_prob("dog", ("cat", "sat"))) == pytest.approx(0.5 * 0.5 * p_dog)


@pytest.mark.parametrize("order", [1, 2, 4, 5])
def test_a_sentence_is_scored_word_by_word_on_the_last_order_minus_1_words(order):
    lm = NGramLM.train(random_corpus(), order=order)
    words = "a b c a zz b d e".split()
    padded = ["<s>", *words, "</s>"]
    keep = order - 1
    want = sum(
        lm.log_prob(padded[i], tuple(padded[max(0, i - keep) : i])) for i in range(1, len(padded))
    )
    assert lm.sentence_log_prob(words) == pytest.approx(want, abs=1e-12)
    state = lm.start()
    for word in words:
        _, state = lm.advance(state, word)
    assert state == tuple(w if w != "zz" else "<unk>" for w in words)[len(words) - keep :]


def test_discounts_follow_chen_and_goodman_from_the_counts_of_counts():
    corpus = random_corpus()
    lm = NGramLM.train(corpus, order=2)
    bigrams = Counter()
    for sentence in corpus:
        words = ["<s>", *sentence.split(), "</s>"]
        bigrams.update(itertools.pairwise(words))
    n = Counter(bigrams.values())
    y = n[1] / (n[1] + 2 * n[2])
    want = (1 - 2 * y * n[2] / n[1], 2 - 3 * y * n[3] / n[2], 3 - 4 * y * n[4] / n[3])
    assert lm.discounts[2] == pytest.approx(want)
    assert NGramLM.train(CORPUS, order=2).discounts[2] == FALLBACK_DISCOUNTS  # tiny: fallback


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_every_history_gives_a_distribution(order):
    lm = NGramLM.train(random_corpus(), order=order)
    words = sorted(lm.vocabulary - {"<s>"})
    assert {"</s>", "<unk>"} <= set(words)
    seen = set()  # every history the corpus holds, longest order - 1 words
    for sentence in random_corpus():
        padded = ["<s>", *sentence.split()]
        for end in range(1, len(padded) + 1):
            seen.update(tuple(padded[start:end]) for start in range(max(0, end - order + 1), end))
    histories = [(), ("zz", "a"), ("a", "zz", "b"), ("f", "f", "f", "f"), *sorted(seen)]
    for history in histories:
        total = sum(math.exp(lm.log_prob(word, history)) for word in words)
        assert total == pytest.approx(1, abs=1e-9), history


ARPA = """some header text

\\data\\
ngram 1=5
ngram 2=3
ngram 3=1

\\1-grams:
-1.0\t<unk>
-99\t<s>\t-0.5
-0.6\ta\t-0.3
-0.7\tb\t-0.2
-0.8\t</s>

\\2-grams:
-0.2\t<s> a\t-0.1
-0.4\ta b\t-0.15
-0.5\tb </s>

\\3-grams:
-0.1\t<s> a b

\\end\\
"""


def write(tmp_path, text, name="lm.arpa"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_hand_written_arpa_scores_by_the_backoff_formula(tmp_path):
    lm = NGramLM.read_arpa(write(tmp_path, ARPA))
    assert (lm.order, lm.counts) == (3, (5, 3, 1))
    # <s> a: a bigram; <s> a b: the trigram; a b a: bo(a b) + bo(b) + p(a);
    # b a </s>: "b a" is no entry (weight 1), then bo(a) + p(</s>).
    want = -0.2 + -0.1 + (-0.15 - 0.2 - 0.6) + (-0.3 - 0.8)
    assert lm.sentence_log_prob("a b a") == pytest.approx(want * LN10)
    assert lm.perplexity(["a b a"]) == pytest.approx(math.exp(-want * LN10 / 4))
    # Unknown words are <unk>, as the next word (<unk> has no bigrams: bo(b) + p(<unk>)) or in the
    # history (no "<unk> a" bigram and <unk> has no backoff: p(a)).
    assert lm.log_prob("zz", ("b",)) == pytest.approx((-0.2 - 1.0) * LN10)
    assert lm.log_prob("a", ("zz",)) == pytest.approx(-0.6 * LN10)
    state = lm.start()
    for word in ["a", "b"]:
        _, state = lm.advance(state, word)
    assert state == ("a", "b")
    assert lm.finish(state) == pytest.approx((-0.15 - 0.5) * LN10)


def test_train_write_read_gives_the_same_scores(tmp_path):
    lm = NGramLM.train(random_corpus(), order=3)
    path = tmp_path / "round.arpa"
    lm.write_arpa(path)
    again = NGramLM.read_arpa(path)
    assert (again.order, again.counts, again.vocabulary) == (lm.order, lm.counts, lm.vocabulary)
    for sentence in [*random_corpus(20, seed=1), "a zz b", "f"]:
        assert again.sentence_log_prob(sentence) == lm.sentence_log_prob(sentence)


def lines_of(text):
    return text.split("\n")


def edited(line_number, new):
    """ARPA with its line ``line_number`` (1-based) replaced by ``new`` (None: removed)."""
    lines = lines_of(ARPA)
    lines[line_number - 1 : line_number] = [] if new is None else [new]
    return "\n".join(lines)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (edited(5, "ngram 2=x"), 5, "expected 'ngram 2=COUNT', got 'ngram 2=x'"),
        (edited(5, "ngram 3=3"), 5, "expected 'ngram 2=COUNT'"),
        (
            edited(10, "-oops\t<s>\t-0.5"),
            10,
            "expected a log10 probability <= 0 first, got '-oops'",
        ),
        (edited(11, "0.5\ta"), 11, "expected a log10 probability <= 0 first, got '0.5'"),
        (edited(11, "-0.6\ta\tb\tc"), 11, "expected a 1-gram entry"),
        (edited(11, "-0.6\ta\tnan"), 11, "expected a finite log10 backoff weight last"),
        (edited(12, "-0.7\ta"), 12, "expected each n-gram once, got 'a'"),
        (
            edited(16, "-0.2\t<s>"),
            16,
            "expected a 2-gram entry 'log10-prob w1 .. w2' \\[backoff\\]",
        ),
        (edited(21, "-0.1\t<s> a b\t-0.5"), 21, "expected a 3-gram entry 'log10-prob w1 .. w3'"),
        (edited(18, None), 19, "expected 3 2-grams as \\\\data\\\\ declares, got 2"),
        (edited(13, "-0.8\t</s>\n-0.9\tc"), 14, "expected 5 1-grams as \\\\data\\\\ declares"),
        (edited(15, "\\3-grams:"), 15, "expected \\\\2-grams:"),
        (
            edited(4, "ngram 1=5\nngram 2=3\nngram 3=1\nngram 4=0\nngram 5=0\nngram 6=0"),
            9,
            "at most 5",
        ),
        (edited(23, "\\4-grams:"), 23, "expected \\\\end\\\\"),
    ],
)
def test_a_malformed_arpa_line_names_file_and_line(tmp_path, text, line, message):
    path = write(tmp_path, text)
    with pytest.raises(UserError, match=f"{path}:{line}: .*{message}"):
        NGramLM.read_arpa(path)


def test_arpa_files_that_are_wrong_as_a_whole(tmp_path):
    with pytest.raises(UserError, match=r"lm.arpa: expected a \\end\\ line, got the end"):
        NGramLM.read_arpa(write(tmp_path, edited(23, None)))
    with pytest.raises(
        UserError, match=r"lm.arpa: expected the 1-grams to include <s> and </s>, got no <s>"
    ):
        NGramLM.read_arpa(write(tmp_path, edited(10, "-0.9\tc").replace("<s> a", "c a")))
    with pytest.raises(UserError, match=r"lm.arpa: expected an ARPA file of at most 100 bytes"):
        NGramLM.read_arpa(write(tmp_path, ARPA), max_bytes=100)
    with pytest.raises(UserError, match=r"nothing.arpa: expected an ARPA file, got no such file"):
        NGramLM.read_arpa(tmp_path / "nothing.arpa")
    big = edited(5, "ngram 2=99999999")
    with pytest.raises(UserError, match=r"lm.arpa:8: expected at most \d+ n-grams in a file of"):
        NGramLM.read_arpa(write(tmp_path, big))
    path = tmp_path / "latin1.arpa"
    path.write_bytes(ARPA.replace("-0.7\tb", "-0.7\t\xe9").encode("latin-1"))
    with pytest.raises(UserError, match=r"latin1.arpa:12: expected UTF-8 text"):
        NGramLM.read_arpa(path)


def test_training_input_mistakes():
    with pytest.raises(UserError, match=r"order: expected an integer from 1 to 5, got 6"):
        NGramLM.train(CORPUS, order=6)
    with pytest.raises(UserError, match=r"sentences\[1\]: expected words other than <s> and"):
        NGramLM.train(["a", "b </s> c"])
    with pytest.raises(UserError, match=r"sentences: expected at least one non-blank sentence"):
        NGramLM.train(["", "  "])
    with pytest.raises(UserError, match=r"sentences: expected an iterable of sentences, got a str"):
        NGramLM.train("the cat sat")
    with pytest.raises(UserError, match=r"discounts: expected \(D1, D2, D3\+\) with 0 < Dk <= k"):
        NGramLM.train(CORPUS, discounts=(0.5, 2.5, 1.0))
    with pytest.raises(UserError, match=r"sentences: expected at least one sentence, got none"):
        NGramLM.train(CORPUS).perplexity([])
