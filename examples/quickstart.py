"""Quickstart: the notes' next-word prediction from remembered keywords, on a CPU in minutes.

The built-in ``keywords`` corpus follows the notes' example — "my friend eats samosa every day ...
his favourite cuisine is INDIAN . my brother likes pasta ... his favourite cuisine is ITALIAN" —
with 0 to 60 filler words between keyword and question and up to four people per passage. A
word-level LSTM language model learns to predict every next word; the cuisine word can only be
predicted by keeping the food in the cell state across the filler and replacing it when the person
changes. The script trains it, asks the notes' own passage, scores the cuisine word by distance on
500 unseen passages, lists the next words for one prompt, and reads the gate trace: the unit
whose cell state holds the keyword, where the forget gate wipes it and the input gate writes the
next one.

Run: ``make demo``, or ``.venv/bin/python examples/quickstart.py [--out runs/quickstart]``. The
same model from the command line: ``lstmkit lm train --data keywords --config
examples/keywords.yaml --out runs/keywords``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from lstmkit.cli.output import format_table
from lstmkit.data import CUISINES, NOTES_EXAMPLE, load_corpus
from lstmkit.data.config_file import read_config_file
from lstmkit.data.keywords import FOOD_CUISINE, generate_passages, parse_passage
from lstmkit.inspect.memory import add_keyword_memory
from lstmkit.inspect.report import write_report
from lstmkit.inspect.traces import lm_trace
from lstmkit.lm import LanguageModel

CONFIG = Path(__file__).with_name("keywords.yaml")
PROMPT = "my aunt cooks ramen . in the evening she reads a book her favourite cuisine is"


def build(config: dict, epochs: int | None, minutes: float | None, seed: int) -> LanguageModel:
    """The estimator of ``examples/keywords.yaml``, with this run's budget and seed."""
    training = {**config["training"], "max_time": minutes, "seed": seed}
    if epochs is not None:
        training["epochs"] = epochs
    return LanguageModel(
        tokenizer=config["tokenizer"],
        model=config["model"],
        batch_size=config["batch_size"],
        bptt=config["bptt"],
        state_reset=config.get("state_reset", 0.0),
        optim=config["optim"],
        train=training,
    )


def notes_example(lm: LanguageModel) -> None:
    """Asks the notes' passage at each "favourite cuisine is"."""
    passage = parse_passage(NOTES_EXAMPLE)
    for answer in passage.answers:
        prefix = " ".join(passage.words[: answer.position])
        word, p = lm.next_word(prefix)
        mark = "right" if word == answer.cuisine else f"wrong, the notes say {answer.cuisine}"
        print(
            f"  ... {' '.join(passage.words[answer.position - 8 : answer.position])} -> "
            f"{word}  (p = {p:.3f}, {mark})"
        )


def accuracy_table(lm: LanguageModel, seed: int) -> None:
    passages = generate_passages(500, f"keywords-{seed}-test", max_filler=60)
    scores = lm.keyword_accuracy(passages)
    rows = [[label, f"{s.accuracy:.1%}", f"{s.correct}/{s.total}"] for label, s in scores.items()]
    print(format_table(["filler words", "accuracy", "correct"], rows, "<>>"))


def next_words(lm: LanguageModel) -> None:
    print(f"  prompt: {PROMPT!r}")
    rows = [[k, token, f"{p:.4f}"] for k, (token, p) in enumerate(lm.predict_next(PROMPT, 5), 1)]
    print(format_table(["rank", "next word", "prob"], rows, "><>"))


def cell_trace(lm: LanguageModel, text: str):
    """The first layer's gate trace over ``text``: i, f, g, o, c, h each (T, H)."""
    model = lm.model_
    ids = torch.tensor([lm.tokenizer_.encode(text)])
    _, _, trace = model.layers[0](model.embed(ids), return_gates=True)
    return type(trace)(*(t[0, 0] for t in trace))


@torch.no_grad()
def keyword_unit(lm: LanguageModel, seed: int) -> int:
    """The unit whose cell state, all the way from the food to its question, best tells INDIAN
    from ITALIAN (the notes' two cuisines) on 300 unseen passages: the largest gap of the means
    over the spread — a unit that holds the keyword, not one that recomputes it at the end."""
    cells = {"INDIAN": [], "ITALIAN": []}
    for passage in generate_passages(300, f"quickstart-probe-{seed}", max_filler=60):
        c = cell_trace(lm, passage.text).c  # (T, H)
        for answer in passage.answers:
            if answer.cuisine in cells:
                cells[answer.cuisine].append(c[answer.food_position + 1 : answer.position])
    a, b = (torch.cat(cells[k]) for k in ("INDIAN", "ITALIAN"))  # (positions, H)
    spread = (a.var(0) + b.var(0)).sqrt() + 1e-6
    return int(((a.mean(0) - b.mean(0)).abs() / spread).argmax())


@torch.no_grad()
def explain(lm: LanguageModel, seed: int) -> None:
    """The notes' passage through the gate trace of the unit that holds the keyword."""
    words = NOTES_EXAMPLE.split()
    unit = keyword_unit(lm, seed)
    trace = cell_trace(lm, NOTES_EXAMPLE)
    c, f, i = trace.c[:, unit], trace.f[:, unit], trace.i[:, unit]
    first, second = words.index("INDIAN"), len(words) - 2  # the two answers' questions: at "is"
    print(
        f"  unit {unit} tells INDIAN from ITALIAN best on 300 unseen passages (at every word "
        "between food and question); its "
        f"cell state is {c[first - 1]:+.2f} at the first question, {c[second - 1]:+.2f} at "
        "the second"
    )
    change = words.index("brother")
    window = range(words.index("samosa") - 1, change + 5)
    rows = [[words[k], f"{c[k]:+.2f}", f"{f[k]:.2f}", f"{i[k]:.2f}"] for k in window]
    print(format_table(["word", "cell c", "forget f", "input i"], rows, "<>>>"))
    after = range(first + 1, change + 5)  # from "." after INDIAN to "cheese"
    wiped = next((k for k in after if f[k] < 0.5), min(after, key=lambda k: f[k]))
    foods = [k for k in after if words[k] in FOOD_CUISINE]
    written = next((k for k in foods if i[k] > 0.5), foods[0])
    held = f[words.index("samosa") + 1 : first].mean()
    print(
        f"  the forget gate keeps the keyword through the filler (mean f = {held:.2f}), wipes it "
        f"at {words[wiped]!r} (f = {f[wiped]:.2f}); the input gate writes the new one at "
        f"{words[written]!r} (i = {i[written]:.2f})"
    )


def report(lm: LanguageModel, out: str, seed: int) -> None:
    """The notes' passage as an offline HTML report (gates, cell state, memory units), with
    the search for the unit that holds each cuisine over held-out passages."""
    trace = lm_trace(lm, NOTES_EXAMPLE)
    found = add_keyword_memory(trace, lm, "INDIAN", seed=seed)  # the notes' first keyword
    files = write_report(trace, Path(out) / "report.html")
    print(f"  {found.finding()}")
    print(f"  open {files[0]} in a browser (also: lstmkit inspect {out} --text '...')")


def main(argv: list[str] | None = None) -> LanguageModel:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="runs/quickstart", help="run folder (replaced)")
    parser.add_argument("--epochs", type=int, help="default: examples/keywords.yaml's")
    parser.add_argument(
        "--minutes",
        type=float,
        help="a time cap on training (default none: the epochs bound it, so a seed gives the same "
        "model on every run; a cap stops a busy machine before the keyword is learnt)",
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    config = read_config_file(CONFIG)
    corpus = load_corpus("keywords", seed=args.seed)
    print(
        f"1. Training a word-level LSTM language model on the built-in 'keywords' corpus "
        f"({len(corpus.train.splitlines())} passages, {len(corpus.train.split()):,} words, "
        f"{len(CUISINES)} cuisines) into {args.out}/"
    )
    lm = build(config, args.epochs, args.minutes, args.seed).fit(corpus, out=args.out)
    p = lm.progress_
    best = min(h["ppl"] for h in p.history)
    print(
        f"   {p.step} steps in {p.elapsed / 60:.1f} min, stopped by {p.stopped}; "
        f"best validation perplexity {best:.3f}"
    )
    print("\n2. The notes' example: the next word after each 'favourite cuisine is'")
    notes_example(lm)
    print("\n3. Cuisine accuracy on 500 unseen passages, by filler words between food and question")
    accuracy_table(lm, args.seed)
    print("\n4. Next-word prediction")
    next_words(lm)
    print("\n5. Inside the memory cell: the notes' passage through the gate trace")
    explain(lm, args.seed)
    print("\n6. The memory, seen: the unit that tells INDIAN from every other cuisine; a report")
    report(lm, args.out, args.seed)
    prompt = "my uncle loves tacos . at night he reads a book his favourite cuisine is"
    print(f'\nTry it: .venv/bin/lstmkit lm predict {args.out} "{prompt}"')
    return lm


if __name__ == "__main__":
    main()
