"""Seq2seq on real data: Multi30k (image captions) de→en or en→de, and Tatoeba eng-fra.

Trains a bidirectional-encoder LSTM with attention (and, with ``--attention none``, the notes'
pure context-vector model) on the raw Multi30k files as a user would bring them (``--src
train.de.gz --tgt train.en.gz``), then reports BLEU and chrF (sacrebleu, detokenised) on
``test_2016_flickr`` with greedy decoding and beam 5, the training time and tokens/s.

Published (bentrevett/pytorch-seq2seq, GPU): 2-layer LSTM without attention BLEU 13.8; bi-GRU
encoder + Bahdanau attention BLEU 28.3. Target (issue 4): >= 30 BLEU de→en with attention.

Run::

    .venv/bin/python benchmarks/seq2seq_multi30k.py --pair de-en --minutes 30
    .venv/bin/python benchmarks/seq2seq_multi30k.py --tatoeba --minutes 5
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

from lstmkit.data import load_pairs, read_parallel
from lstmkit.seq2seq import Seq2Seq
from lstmkit.seq2seq.scores import translation_scores

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def corpus_and_test(args):
    if args.tatoeba:
        corpus = load_pairs(DATA / "tatoeba" / "eng-fra.tsv", seed=args.seed)
        return corpus, corpus.test, "Tatoeba eng-fra (its seeded test split)"
    src, tgt = args.pair.split("-")
    folder = DATA / "multi30k"
    corpus = load_pairs(
        src=folder / f"train.{src}.gz",
        tgt=folder / f"train.{tgt}.gz",
        valid=(folder / f"val.{src}.gz", folder / f"val.{tgt}.gz"),
        test=(folder / f"test_2016_flickr.{src}.gz", folder / f"test_2016_flickr.{tgt}.gz"),
    )
    test = read_parallel(
        folder / f"test_2016_flickr.{src}.gz", folder / f"test_2016_flickr.{tgt}.gz"
    )
    return corpus, test, f"Multi30k {src}→{tgt}, test_2016_flickr"


def run(args, attention: str) -> dict:
    corpus, test, name = corpus_and_test(args)
    s2s = Seq2Seq(
        args.tokenizer,
        args.tokenizer,
        src_vocab_size=args.vocab_size,
        tgt_vocab_size=args.vocab_size,
        model={
            "embedding_size": args.embedding_size,
            "hidden_size": args.hidden_size,
            "num_layers": args.num_layers,
            "dropout": args.dropout,
            "attention": attention,
            "embedding_init": args.embedding_init,
        },
        batch_size=args.batch_size,
        label_smoothing=0.1,
        optim={"lr": args.lr, "schedule": "cosine", "warmup_steps": 200},
        train={
            "epochs": args.epochs,
            "max_time": args.minutes,
            "seed": args.seed,
            "monitor": "bleu",
        },
    )
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as out:
        s2s.fit(corpus, out=out)
    seconds = time.monotonic() - started
    steps_per_epoch = -(-len(corpus.train) // args.batch_size)
    epochs = s2s.progress_.step / steps_per_epoch
    tokens = sum(len(s2s.tgt_tokenizer_.encode(t)) + 1 for t in corpus.train.tgt)  # with eos
    row = {
        "name": name,
        "attention": attention,
        "minutes": seconds / 60,
        "epochs": epochs,
        "tokens_per_s": tokens * epochs / seconds,  # validation and BLEU time included
    }
    for method in ("greedy", "beam"):
        hyps = s2s.translate(test.src, method=method)
        row[method] = translation_scores(hyps, test.tgt, test.src)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pair", default="de-en", choices=("de-en", "en-de", "fr-en", "en-fr"))
    parser.add_argument("--tatoeba", action="store_true", help="Tatoeba eng-fra instead")
    parser.add_argument("--attention", nargs="+", default=["luong"])
    parser.add_argument("--tokenizer", default="bpe")
    parser.add_argument("--vocab-size", type=int, default=8000)
    parser.add_argument("--embedding-size", type=int, default=256)
    parser.add_argument("--hidden-size", type=int, default=256)
    parser.add_argument("--num-layers", type=int, default=2)
    parser.add_argument("--dropout", type=float, default=0.3)
    parser.add_argument("--embedding-init", default="normal", choices=("normal", "scaled"))
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.003)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"{DATA}: not found; this benchmark reads the shared data sets")
    load = os.getloadavg()[0]
    rows = [run(args, a) for a in args.attention]
    print(
        f"torch {torch.__version__} | threads {torch.get_num_threads()} | "
        f"{platform.processor() or platform.machine()} | 1-min load avg {load:.2f} at start, "
        f"{os.getloadavg()[0]:.2f} at end\n"
    )
    print(
        f"{rows[0]['name']}; {args.tokenizer} {args.vocab_size} per side, embedding "
        f"{args.embedding_size} ({args.embedding_init} init), "
        f"{args.num_layers}x{args.hidden_size} bi-LSTM encoder and LSTM "
        f"decoder, dropout {args.dropout}, label smoothing 0.1, AdamW lr {args.lr} cosine, "
        f"batch {args.batch_size}, best epoch by validation BLEU (greedy)\n"
    )
    print(
        "| attention | train min | epochs | target tokens/s | BLEU greedy | BLEU beam 5 | "
        "chrF beam 5 |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['attention']} | {r['minutes']:.1f} | {r['epochs']:.1f} | "
            f"{r['tokens_per_s']:,.0f} | {r['greedy']['bleu']:.1f} | {r['beam']['bleu']:.1f} | "
            f"{r['beam']['chrf']:.1f} |"
        )
    print(f"\n{rows[0]['beam']['signature']}\n")
    print_by_length(rows)


def print_by_length(rows: list[dict]) -> None:
    """BLEU (beam 5) per source-length bucket: the notes' claim that quality falls with length."""
    labels = list(rows[0]["beam"]["by_length"])
    sizes = [rows[0]["beam"]["by_length"][k]["sentences"] for k in labels]
    print("BLEU (beam 5) by source length in words (sentences):\n")
    print(
        "| attention | "
        + " | ".join(f"{k} ({n})" for k, n in zip(labels, sizes, strict=True))
        + " |"
    )
    print("|---|" + "---:|" * len(labels))
    for r in rows:
        cells = " | ".join(f"{r['beam']['by_length'][k]['bleu']:.1f}" for k in labels)
        print(f"| {r['attention']} | {cells} |")


if __name__ == "__main__":
    main()
