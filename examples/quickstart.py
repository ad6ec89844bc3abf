"""Quickstart: the notes' keyword memory, learned by lstmkit's LSTM layer in a minute on a CPU.

Passages follow the notes' example — "my friend eats samosa every day ... his favourite cuisine
is INDIAN . my brother likes pasta ... his favourite cuisine is ITALIAN" — with a random number of
filler words between the keyword and the question. An embedding → `lstmkit.nn.LSTM` → linear model
learns to answer each question, which means keeping the keyword in its cell state across the filler
and replacing it when the person changes. Then the script runs the notes' own passage through the
explicit backend with the gate trace and reports the unit whose cell state holds the keyword, and
what its forget and input gates do at "my brother".

Run: ``make demo`` (or ``.venv/bin/python examples/quickstart.py --steps 600``).
"""

from __future__ import annotations

import argparse
import random

import torch
from torch import nn
from tqdm import tqdm

from lstmkit.nn import LSTM

CUISINES = {
    "INDIAN": ["samosa", "curry", "dosa"],
    "ITALIAN": ["pasta", "pizza", "cheese"],
    "JAPANESE": ["sushi", "ramen", "tempura"],
    "MEXICAN": ["tacos", "burritos", "nachos"],
}
PEOPLE = ["friend", "brother", "sister", "cousin", "neighbour"]
FILLER = (
    "every day and it should not be hard to guess that after work on weekends he often"
).split()
QUESTION = ["his", "favourite", "cuisine", "is"]
LABELS = list(CUISINES)
VOCAB = sorted(
    {"my", "eats", "likes", "."}
    | set(PEOPLE)
    | set(FILLER)
    | set(QUESTION)
    | {w for foods in CUISINES.values() for w in foods}
)
INDEX = {w: k for k, w in enumerate(VOCAB)}


def passage(rng: random.Random, people: int, max_filler: int) -> tuple[list[str], list[int]]:
    """Words of a passage and, per word, the cuisine to predict there (-1: nothing to predict)."""
    words, targets = [], []
    for _ in range(people):
        cuisine = rng.choice(LABELS)
        part = [
            "my",
            rng.choice(PEOPLE),
            rng.choice(["eats", "likes"]),
            rng.choice(CUISINES[cuisine]),
        ]
        part += [rng.choice(FILLER) for _ in range(rng.randint(1, max_filler))] + QUESTION
        words += [*part, "."]
        targets += [-1] * (len(part) - 1) + [LABELS.index(cuisine), -1]
    return words, targets


def batch(
    rng: random.Random, size: int, max_filler: int
) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
    """A padded batch: token ids (B, T), targets (B, T) with -1 where nothing is asked, lengths."""
    items = [passage(rng, rng.randint(1, 3), max_filler) for _ in range(size)]
    T = max(len(w) for w, _ in items)
    ids = torch.zeros(size, T, dtype=torch.long)
    targets = torch.full((size, T), -1)
    for b, (words, tgt) in enumerate(items):
        ids[b, : len(words)] = torch.tensor([INDEX[w] for w in words])
        targets[b, : len(tgt)] = torch.tensor(tgt)
    return ids, targets, [len(w) for w, _ in items]


class KeywordModel(nn.Module):
    """Embedding (B, T, E) → LSTM (B, T, H) → linear (B, T, cuisines)."""

    def __init__(self, hidden_size: int = 32) -> None:
        super().__init__()
        self.embed = nn.Embedding(len(VOCAB), 16)
        self.lstm = LSTM(16, hidden_size, batch_first=True, forget_bias=1.0)
        self.head = nn.Linear(hidden_size, len(LABELS))

    def forward(self, ids, lengths=None, return_gates=False):
        out, _, *trace = self.lstm(self.embed(ids), lengths=lengths, return_gates=return_gates)
        return self.head(out), (trace[0] if trace else None)


def train(model: KeywordModel, steps: int, seed: int) -> None:
    rng = random.Random(seed)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    loss_fn = nn.CrossEntropyLoss(ignore_index=-1)
    bar = tqdm(range(steps), desc="training", unit="batch")
    for _ in bar:
        ids, targets, lengths = batch(rng, 32, max_filler=12)
        logits, _ = model(ids, lengths)
        loss = loss_fn(logits.flatten(0, 1), targets.flatten())
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        bar.set_postfix(loss=f"{loss.item():.3f}")


@torch.no_grad()
def accuracy(model: KeywordModel, max_filler: int, seed: int) -> float:
    ids, targets, lengths = batch(random.Random(seed), 512, max_filler)
    logits, _ = model(ids, lengths)
    asked = targets >= 0
    return (logits.argmax(-1)[asked] == targets[asked]).float().mean().item()


@torch.no_grad()
def explain(model: KeywordModel) -> None:
    """The notes' passage through the gate trace: the unit keeping the keyword, and its gates."""
    text = (
        "my friend eats samosa every day and it should not be hard to guess that "
        "his favourite cuisine is . my brother likes pasta and cheese that "
        "his favourite cuisine is ."
    ).split()
    ids = torch.tensor([[INDEX[w] for w in text]])
    logits, trace = model(ids, return_gates=True)
    asked = [k for k, w in enumerate(text) if w == "is"]
    answers = [LABELS[logits[0, k].argmax()] for k in asked]
    print("passage:", " ".join(text))
    print("answers at the two questions:", ", ".join(answers), "(expected INDIAN, ITALIAN)")
    # The unit whose cell state differs most between the two halves holds the keyword.
    c = trace.c[0, 0]  # (T, H)
    change = text.index("brother")
    first, second = c[3 : change - 1].mean(0), c[change + 2 :].mean(0)
    unit = int((first - second).abs().argmax())
    print(
        f"unit {unit} cell state: {first[unit]:+.2f} on the first person, "
        f"{second[unit]:+.2f} on the second"
    )
    print("  word       c      forget  input")
    window = range(change - 4, change + 3)
    for k in window:
        f, i = trace.f[0, 0, k, unit], trace.i[0, 0, k, unit]
        print(f"  {text[k]:<9} {c[k, unit]:+.2f}   {f:.2f}    {i:.2f}")
    # Wiped where the forget gate drops the most memory: |c_{t-1}| (1 - f_t).
    wiped = max(window, key=lambda k: c[k - 1, unit].abs() * (1 - trace.f[0, 0, k, unit]))
    written = max(window, key=lambda k: trace.i[0, 0, k, unit] * trace.g[0, 0, k, unit].abs())
    print(
        f"the forget gate wipes the old keyword at {text[wiped]!r} "
        f"(f = {trace.f[0, 0, wiped, unit]:.2f}); the input gate writes the new one at "
        f"{text[written]!r} (i = {trace.i[0, 0, written, unit]:.2f})"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=200, help="training batches (default 200)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)
    model = KeywordModel()
    train(model, args.steps, args.seed)
    model.eval()
    for filler in (12, 40):
        print(f"accuracy with up to {filler} filler words: {accuracy(model, filler, seed=1):.1%}")
    explain(model)


if __name__ == "__main__":
    main()
