"""Seq2seq defaults on a user's small character-level task: several tasks, one command each.

What it measures
----------------
Issue 23 asks that ``lstmkit seq2seq train --data FILE --max-time 5`` with no other option learns
a user's small character-level TSV task (20,000 short pairs) to >= 90% exact match in five
minutes on 2 CPU cores. This script writes such tasks (:data:`TASKS`), each as 20,000 training
pairs plus 500 validation and 1,000 test pairs drawn from the same distribution but never in
training (every source occurs once in the three files together), and trains each with the
command line's defaults and a time budget alone::

    lstmkit seq2seq train --data train.tsv --valid valid.tsv --test test.tsv \\
        [--tokenizer char] --max-time 5

then reads the test exact match (greedy) the command reports. The files come in two styles:
``plain`` strings, read with ``--tokenizer char``, and ``symbols``, the characters separated by
spaces (a space becomes ``_``), which the default word tokenizer reads symbol by symbol
(``h e l l o<TAB>o l l e h``). The runs alternate styles and seeds, so the table spreads over
both and over at least two seeds.

The tasks (sources of 5 to 25 characters, ``numbers``' 3 to 54):

* ``reverse``: letters, reversed (``kqzvtb`` → ``btvzqk``);
* ``caesar``: words of letters shifted by three (``attack at dawn`` → ``dwwdfn dw gdzq``);
* ``dedup``: letters from ``a``-``j`` with their repeats dropped (``abacjbd`` → ``abcjd``);
* ``sort``: letters sorted (``hello`` → ``ehllo``);
* ``date``: a date in words to ISO 8601 (``12 march 2021`` → ``2021-03-12``);
* ``numbers``: 0 to 99,999 in English words (num2words, without commas) to digits;
* ``inflect``: made-up words and a tag to their inflected form under made-up suffix rules
  (``tilum PL`` → ``tilumen``; see :func:`inflected`).

Run from the repository root::

    .venv/bin/python benchmarks/seq2seq_char_tasks.py                     # every task, 5 min
    .venv/bin/python benchmarks/seq2seq_char_tasks.py --tasks reverse date --minutes 2
    .venv/bin/python benchmarks/seq2seq_char_tasks.py --write DIR --tasks sort   # files only
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from num2words import num2words

from _common import fmt_load, load_average

# Inherited by the training commands (see lm_shakespeare.py): PyTorch's spinning OpenMP threads
# collapse when another process takes one of the cores.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

LETTERS = "abcdefghijklmnopqrstuvwxyz"
MONTHS = (
    "january february march april may june july august september october november december"
).split()
STYLES = ("plain", "symbols")
SIZES = {"train": 20_000, "valid": 500, "test": 1_000}
TARGET = 90.0  # exact match in %, on the test pairs


def _letters(rng: random.Random, low: int, high: int, alphabet: str = LETTERS) -> str:
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(low, high)))


def reverse(rng: random.Random) -> tuple[str, str]:
    """5 to 20 letters, reversed."""
    text = _letters(rng, 5, 20)
    return text, text[::-1]


def caesar(rng: random.Random) -> tuple[str, str]:
    """Two to four words of 2 to 7 letters (at most 25 characters), each letter shifted by 3."""
    while True:
        text = " ".join(_letters(rng, 2, 7) for _ in range(rng.randint(2, 4)))
        if len(text) <= 25:
            break
    shifted = "".join(
        c if c == " " else LETTERS[(LETTERS.index(c) + 3) % len(LETTERS)] for c in text
    )
    return text, shifted


def dedup(rng: random.Random) -> tuple[str, str]:
    """5 to 20 letters of ``a``-``j``, each letter kept at its first occurrence only."""
    text = _letters(rng, 5, 20, LETTERS[:10])
    seen: list[str] = []
    for c in text:
        if c not in seen:
            seen.append(c)
    return text, "".join(seen)


def sort(rng: random.Random) -> tuple[str, str]:
    """5 to 15 letters, in alphabetical order."""
    text = _letters(rng, 5, 15)
    return text, "".join(sorted(text))


def date(rng: random.Random) -> tuple[str, str]:
    """A day of 1900-2099 as ``12 march 2021`` → ``2021-03-12``."""
    day = datetime.date(1900, 1, 1) + datetime.timedelta(days=rng.randrange(73_049))
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}", day.isoformat()


def numbers(rng: random.Random) -> tuple[str, str]:
    """0 to 99,999 in English words (num2words without its commas) → its digits."""
    n = rng.randrange(100_000)
    return num2words(n).replace(",", ""), str(n)


# Made-up morphology: a stem's last letter picks the ending; PL and DIM follow the stem's
# first vowel (front e/i, back a/o/u), as vowel harmony does.
CONSONANTS, VOWELS = "bdfgklmnprstvz", "aeiou"


def inflected(stem: str, tag: str) -> str:
    """``stem`` under ``tag``'s made-up suffix rule (the stem's first vowel is front: e, i):

    * ``PL``: after a vowel ``-n``; after ``s`` ``-es``; else ``-en`` (front) / ``-on`` (back);
    * ``PST``: after a vowel ``-d``; after ``k``/``g`` the consonant doubled and ``-it``;
      else ``-et``;
    * ``DIM``: a final vowel dropped, then ``-ili`` (front) / ``-ulu`` (back).
    """
    front = next(c for c in stem if c in VOWELS) in "ei"
    last = stem[-1]
    if tag == "PL":
        return stem + ("n" if last in VOWELS else "es" if last == "s" else "en" if front else "on")
    if tag == "PST":
        return stem + ("d" if last in VOWELS else last + "it" if last in "kg" else "et")
    return (stem[:-1] if last in VOWELS else stem) + ("ili" if front else "ulu")


def inflect(rng: random.Random) -> tuple[str, str]:
    """A made-up stem of two or three syllables and a tag → the inflected word (:func:`inflected`;
    ``tilum PL`` → ``tilumen``)."""
    stem = ""
    for _ in range(rng.randint(2, 3)):
        coda = rng.choice(CONSONANTS) if rng.random() < 0.4 else ""
        stem += rng.choice(CONSONANTS) + rng.choice(VOWELS) + coda
    tag = rng.choice(("PL", "PST", "DIM"))
    return f"{stem} {tag}", inflected(stem, tag)


TASKS: dict[str, Callable[[random.Random], tuple[str, str]]] = {
    "reverse": reverse,
    "caesar": caesar,
    "dedup": dedup,
    "sort": sort,
    "date": date,
    "numbers": numbers,
    "inflect": inflect,
}


def make_pairs(task: str, sizes: dict[str, int], seed: int) -> dict[str, list[tuple[str, str]]]:
    """Pairs of ``task`` for each part (``{"train": 20000, ...}``), every source drawn once.

    The parts are cut from one stream of distinct sources, so a valid or test source never
    occurs in training; the same task, sizes and seed give the same pairs.
    """
    rng = random.Random(f"{task}-{seed}")
    wanted, seen, pairs = sum(sizes.values()), set(), []
    while len(pairs) < wanted:
        src, tgt = TASKS[task](rng)
        if src not in seen:
            seen.add(src)
            pairs.append((src, tgt))
    parts, start = {}, 0
    for part, size in sizes.items():
        parts[part], start = pairs[start : start + size], start + size
    return parts


def symbols(text: str) -> str:
    """``text`` as space-separated symbols, a space written ``_`` (``"ab c"`` → ``"a b _ c"``)."""
    return " ".join("_" if c == " " else c for c in text)


def write_task(
    folder: Path, task: str, seed: int, style: str, sizes: dict[str, int] | None = None
) -> dict[str, Path]:
    """Writes ``task``'s parts as TSV files ``folder/{part}.tsv`` in ``style``; their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for part, pairs in make_pairs(task, sizes or SIZES, seed).items():
        shown = pairs if style == "plain" else [(symbols(s), symbols(t)) for s, t in pairs]
        paths[part] = folder / f"{part}.tsv"
        paths[part].write_text("".join(f"{s}\t{t}\n" for s, t in shown), encoding="utf-8")
    return paths


def train_command(paths: dict[str, Path], style: str, minutes: float, out: Path) -> list[str]:
    """The user's command: the defaults, a time budget and, for plain strings, char tokens."""
    command = [sys.executable, "-m", "lstmkit", "seq2seq", "train", "--data", str(paths["train"])]
    command += ["--valid", str(paths["valid"]), "--test", str(paths["test"])]
    command += ["--tokenizer", "char"] if style == "plain" else []
    return [*command, "--max-time", str(minutes), "--out", str(out), "--json", "--no-progress"]


def run(task: str, style: str, seed: int, minutes: float, work: Path) -> dict:
    paths = write_task(work / f"{task}-{style}-{seed}", task, seed, style)
    command = train_command(paths, style, minutes, work / f"run-{task}-{style}-{seed}")
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr}")
    result = json.loads(done.stdout)
    return {
        "task": task,
        "style": style,
        "seed": seed,
        "exact": result["test"]["exact"],
        "steps": result["steps"],
        "minutes": (time.monotonic() - started) / 60,
        "command": " ".join(command),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", nargs="+", choices=list(TASKS), default=list(TASKS))
    parser.add_argument("--minutes", type=float, default=5.0, help="--max-time of each run")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="taken in turn")
    parser.add_argument("--write", metavar="DIR", help="only write each task's files here")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)
    plan = [
        (task, STYLES[k % 2], args.seeds[k % len(args.seeds)]) for k, task in enumerate(args.tasks)
    ]
    if args.write:
        for task, style, seed in plan:
            write_task(Path(args.write) / f"{task}-{style}-{seed}", task, seed, style)
        return 0
    load_start, rows = load_average(), []
    with tempfile.TemporaryDirectory(prefix="s2s-char-") as work:
        for task, style, seed in plan:
            rows.append(run(task, style, seed, args.minutes, Path(work)))
            print(json.dumps(rows[-1]) if args.json else _row(rows[-1]), flush=True)
    print(
        f"\n1-min load avg {fmt_load(load_start)} at start, {fmt_load(load_average())} at end; "
        f"{os.cpu_count()} CPUs; target >= {TARGET:.0f}% exact on the test pairs"
    )
    return 0 if all(r["exact"] >= TARGET for r in rows) else 1


def _row(r: dict) -> str:
    return (
        f"| {r['task']} | {r['style']} | {r['seed']} | {r['exact']:.1f}% | {r['steps']} "
        f"| {r['minutes']:.1f} |"
    )


if __name__ == "__main__":
    raise SystemExit(main())
