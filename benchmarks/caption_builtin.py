"""Image captioning on the built-in scenes: what a setting reaches, scored on validation or test.

What it measures
----------------
For each setting and seed it trains a :class:`lstmkit.caption.Captioner` on the built-in
``scenes`` corpus (64 x 64 rendered scenes, four reference captions each) with a budget of steps
(``--steps``, for comparisons on a shared machine) or minutes (``--minutes``, as a user runs
it), then scores the chosen split (``--split valid`` to choose, ``test`` to report):

* BLEU-4, CIDEr-D and exact match against all of an image's references
  (:meth:`Captioner.evaluate`);
* attention localisation (issue 25): over the first ``--trace-images`` images, the share of
  object words of the greedy caption (a shape word whose object the scene holds once, or once
  in the colour the caption gives it) whose attention peak lies on that object: the peak's
  region of the encoder's grid overlaps the object's box (the corpus keeps the boxes);
* the mean attention peak (1/16 would be uniform over a 4 x 4 grid).

The issue's targets on the test images: BLEU-4 >= 90, exact match >= 80%, localisation >= 80%.

Run from the repository root::

    .venv/bin/python benchmarks/caption_builtin.py --settings default penalty-1 --steps 800
    .venv/bin/python benchmarks/caption_builtin.py --minutes 10 --split test --seeds 0 1 2
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
}
TARGET = {"bleu4": 90.0, "exact": 80.0, "localisation": 80.0}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parses the command line (``None`` reads ``sys.argv``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
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
        scenes = [m for m in map(json.loads, f) if m["split"] == split][:images]
    height, width = corpus.image_size
    hits = total = 0
    peaks = []
    for scene in scenes:
        trace = caption_trace(captioner, corpus.folder / scene["image"])["caption"]
        words, attention = trace["words"], np.asarray(trace["attention"])  # (U, rows, cols)
        rows, cols = attention.shape[1:]
        for k, word in enumerate(words):
            peaks.append(float(attention[k].max()))
            named = [i for i, o in enumerate(scene["objects"]) if o["shape"] == word]
            if k > 0:  # "a red star": the colour before the shape picks the object
                same = [i for i in named if scene["objects"][i]["colour"] == words[k - 1]]
                named = same or named
            if len(named) != 1:
                continue
            x0, y0, x1, y1 = scene["boxes"][named[0]]
            r, c = np.unravel_index(attention[k].argmax(), (rows, cols))
            top, bottom = r * height / rows, (r + 1) * height / rows
            left, right = c * width / cols, (c + 1) * width / cols
            total += 1
            hits += left < x1 and x0 < right and top < y1 and y0 < bottom
    return 100.0 * hits / max(1, total), total, float(np.mean(peaks)) if peaks else 0.0


def exact_by_pair(found: dict, corpus, split: str) -> dict:
    """Exact match apart on the images whose colour-shape pairs training has seen and on those
    holding a pair kept out of training (the corpus's ``held_out``)."""
    with open(getattr(corpus, split), encoding="utf-8") as f:
        images = list(dict.fromkeys(line.split("\t", 1)[0] for line in f if line.strip()))
    with open(corpus.metadata, encoding="utf-8") as f:
        held = {m["image"]: m["held_out"] for m in map(json.loads, f)}
    out = {}
    pairs = zip(images, found["hypotheses"], found["references"], strict=True)
    right = [(held[image], h.strip() in {r.strip() for r in refs}) for image, h, refs in pairs]
    for name, flag in (("seen", False), ("held_out", True)):
        hits = [ok for h, ok in right if h == flag]
        out[f"exact_{name}"] = 100.0 * sum(hits) / len(hits) if hits else None
    return out


def run_one(setting: str, seed: int, args: argparse.Namespace) -> dict:
    """Trains one setting with one seed; returns its record."""
    from lstmkit.caption import Captioner
    from lstmkit.data.caption_builtin import builtin_caption

    corpus = builtin_caption("scenes")
    budget = {"max_steps": args.steps} if args.steps else {"max_time": args.minutes or 10.0}
    started = time.monotonic()
    captioner = Captioner(model=SETTINGS[setting], train={**budget, "seed": seed})
    captioner.fit("scenes", out=args.out / f"{setting}-s{seed}", progress=False)
    minutes = (time.monotonic() - started) / 60
    found = captioner.evaluate(getattr(corpus, args.split), images=corpus.folder)
    record = {"setting": setting, "seed": seed, "train_minutes": minutes}
    record |= {k: found[k] for k in ("bleu4", "cider", "exact", "images")}
    record |= exact_by_pair(found, corpus, args.split)
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
        "| setting | seed | minutes | BLEU-4 | CIDEr-D | exact | exact (seen pairs) "
        "| exact (held-out pairs) | localisation | mean peak |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in records:
        where = f"{r['localisation']:.1f}%" if "localisation" in r else "—"
        peak = f"{r['mean_peak']:.3f}" if "mean_peak" in r else "—"
        lines.append(
            f"| {r['setting']} | {r['seed']} | {r['train_minutes']:.1f} | {r['bleu4']:.1f} "
            f"| {r['cider']:.0f} | {r['exact']:.1f}% | {pct(r['exact_seen'])} "
            f"| {pct(r['exact_held_out'])} | {where} | {peak} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    meta = run_meta(minutes=args.minutes, steps=args.steps, split=args.split)
    records = [run_one(s, seed, args) for s in args.settings for seed in args.seeds]
    meta["load_avg_end"] = load_average()
    emit(args.json, render_markdown(meta, records), meta=meta, results=records, target=TARGET)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
