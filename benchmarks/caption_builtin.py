"""Image captioning on the built-in corpora: what a setting reaches, scored on validation or test.

What it measures
----------------
For each setting and seed it trains a :class:`lstmkit.caption.Captioner` on a built-in corpus
(``--corpus scenes``: 64 x 64 rendered scenes, four reference captions each; ``digits``: strips
of 3 to 5 handwritten digits, test digits from writers' forms never trained on) with a budget
of steps (``--steps``, for comparisons on a shared machine) or minutes (``--minutes``, as a user
runs it), then scores the chosen split (``--split valid`` to choose, ``test`` to report):

* BLEU-4, CIDEr-D and exact match against all of an image's references
  (:meth:`Captioner.evaluate`);
* attention localisation (issue 25): over the first ``--trace-images`` images, the share of
  object words of the greedy caption whose attention peak lies on that object: the peak's region
  of the encoder's grid overlaps the object's box (the corpus keeps the boxes). On scenes an
  object word is a shape word whose object the scene holds once (or once in the colour the
  caption gives it); on digits the k-th word names the k-th digit;
* the mean attention peak (1/16 would be uniform over a 4 x 4 grid);
* on scenes, exact match on the ``novel`` images too: each holds a colour-shape pair that no
  other split has, a probe of composing words seen only apart.

The issue's targets on the test images: scenes BLEU-4 >= 90, exact match >= 80%, localisation
>= 80%; digits whole-strip exact match >= 95%.

Run from the repository root::

    .venv/bin/python benchmarks/caption_builtin.py --settings default penalty-1 --steps 800
    .venv/bin/python benchmarks/caption_builtin.py --minutes 10 --split test --seeds 0 1 2
    .venv/bin/python benchmarks/caption_builtin.py --corpus digits --minutes 10 --split test
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from _common import emit, fmt_load, load_average, run_meta

SETTINGS = {
    "default": {},
    "penalty-0.1": {"penalty": 0.1},
    "penalty-1": {"penalty": 1.0},
    "no-attention": {"attention": "none", "gate": False},
    "grid-8": {"channels": (32, 64, 128)},  # three halvings: an 8 x 8 grid on 64 x 64 scenes
}
TARGET = {
    "scenes": {"bleu4": 90.0, "exact": 80.0, "localisation": 80.0},
    "digits": {"exact": 95.0},
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parses the command line (``None`` reads ``sys.argv``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", choices=("scenes", "digits"), default="scenes")
    parser.add_argument("--settings", nargs="+", default=["default"], choices=sorted(SETTINGS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--minutes", type=float, help="--max-time of each run (default: 10)")
    budget.add_argument("--steps", type=int, help="--max-steps of each run instead of minutes")
    parser.add_argument("--split", choices=("valid", "test"), default="valid")
    parser.add_argument("--trace-images", type=int, default=100)
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench/caption"))
    parser.add_argument("--json", action="store_true", help="print raw numbers as JSON")
    return parser.parse_args(argv)


def localisation(captioner, corpus, split: str, images: int) -> tuple[float, int, float]:
    """(percent of object words whose attention peak is on their object, object words, mean
    peak weight) over the split's first ``images`` images."""
    from lstmkit.inspect.caption import caption_trace

    with open(corpus.metadata, encoding="utf-8") as f:
        records = [m for m in map(json.loads, f) if m["split"] == split][:images]
    height, width = corpus.image_size
    hits = total = 0
    peaks = []
    for record in records:
        trace = caption_trace(captioner, corpus.folder / record["image"])["caption"]
        words, attention = trace["words"], np.asarray(trace["attention"])  # (U, rows, cols)
        rows, cols = attention.shape[1:]
        for k in range(len(words)):
            peaks.append(float(attention[k].max()))
            box = named_box(record, words, k)
            if box is None:
                continue
            x0, y0, x1, y1 = box
            r, c = np.unravel_index(attention[k].argmax(), (rows, cols))
            top, bottom = r * height / rows, (r + 1) * height / rows
            left, right = c * width / cols, (c + 1) * width / cols
            total += 1
            hits += left < x1 and x0 < right and top < y1 and y0 < bottom
    return 100.0 * hits / max(1, total), total, float(np.mean(peaks)) if peaks else 0.0


def named_box(record: dict, words: list[str], k: int) -> list[int] | None:
    """The box of the object the ``k``-th word of a caption names, or None where it names none
    (or not one alone). Scenes: a shape word whose object the scene holds once, or once in the
    colour before it ("a red star"); digits: the ``k``-th digit word and the strip's ``k``-th
    digit, when the caption (its end token aside) has as many words as the strip digits."""
    if "objects" not in record:  # digits
        said = words[:-1] if words and words[-1] == "<eos>" else words
        same = len(said) == len(record["boxes"])
        return record["boxes"][k] if same and k < len(said) else None
    named = [i for i, o in enumerate(record["objects"]) if o["shape"] == words[k]]
    if k > 0:
        same = [i for i in named if record["objects"][i]["colour"] == words[k - 1]]
        named = same or named
    return record["boxes"][named[0]] if len(named) == 1 else None


def run_one(setting: str, seed: int, args: argparse.Namespace) -> dict:
    """Trains one setting with one seed; returns its record."""
    from lstmkit.caption import Captioner
    from lstmkit.data.caption_builtin import builtin_caption
    from lstmkit.train.metrics import read_metrics

    corpus = builtin_caption(args.corpus)
    budget = {"max_steps": args.steps} if args.steps else {"max_time": args.minutes or 10.0}
    started = time.monotonic()
    captioner = Captioner(model=SETTINGS[setting], train={**budget, "seed": seed})
    out = args.out / f"{args.corpus}-{setting}-s{seed}"
    captioner.fit(args.corpus, out=out, progress=False)
    minutes = (time.monotonic() - started) / 60
    found = captioner.evaluate(getattr(corpus, args.split), images=corpus.folder)
    record = {"corpus": args.corpus, "setting": setting, "seed": seed, "train_minutes": minutes}
    record |= {k: found[k] for k in ("bleu4", "cider", "exact", "images")}
    record["steps"] = max((r["step"] for r in read_metrics(out / "metrics.jsonl")), default=None)
    if corpus.novel is not None:
        novel = captioner.evaluate(corpus.novel, images=corpus.folder)
        record |= {"novel_exact": novel["exact"], "novel_bleu4": novel["bleu4"]}
    if SETTINGS[setting].get("attention") != "none":
        share, words, peak = localisation(captioner, corpus, args.split, args.trace_images)
        record |= {"localisation": share, "object_words": words, "mean_peak": peak}
    return record


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}%"


def render_markdown(meta: dict, records: list[dict]) -> str:
    """The table of the docs' captioning page."""
    lines = [
        f"```\ntorch {meta['torch']} | threads {meta['threads']} | CPU: {meta['cpu']} | split "
        f"{meta['split']} | 1-min load avg {fmt_load(meta['load_avg_start'])} at start, "
        f"{fmt_load(meta['load_avg_end'])} at end\n```",
        "",
        "| corpus | setting | seed | steps | minutes | BLEU-4 | CIDEr-D | exact | localisation "
        "| mean peak | novel pairs: exact |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in records:
        where = pct(r.get("localisation"))
        peak = f"{r['mean_peak']:.3f}" if "mean_peak" in r else "—"
        lines.append(
            f"| {r['corpus']} | {r['setting']} | {r['seed']} | {r['steps']} "
            f"| {r['train_minutes']:.1f} | {r['bleu4']:.1f} | {r['cider']:.0f} "
            f"| {r['exact']:.1f}% | {where} | {peak} | {pct(r.get('novel_exact'))} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    meta = run_meta(corpus=args.corpus, minutes=args.minutes, steps=args.steps, split=args.split)
    records = [run_one(s, seed, args) for s in args.settings for seed in args.seeds]
    meta["load_avg_end"] = load_average()
    markdown = render_markdown(meta, records)
    emit(args.json, markdown, meta=meta, results=records, target=TARGET[args.corpus])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
