"""JoeyNMT's side of the seq2seq comparison; run with the JoeyNMT venv's python.

Trains JoeyNMT 2.3 (``python -m joeynmt train``) on the reverse-the-sequence pairs of
:mod:`data` with the architecture of ``run_lstmkit.py seq2seq``: a 1-layer bidirectional LSTM
encoder (embedding 128, hidden 256), a 1-layer LSTM decoder (embedding 128, hidden 256) with
Luong ("general", bilinear) attention and input feeding, a bridge from the encoder's final state,
no dropout, Adam 2e-3 at a constant rate (an "exponential" schedule with factor 1), batches
of 64 sentences, greedy validation on the dev set after every epoch; then decodes the test set
with beam 5 (``python -m joeynmt test``). In float32: JoeyNMT's ``fp16`` is for GPUs (on the
CPU it logs a warning and turns it off) and it has no bfloat16 option.

Everything is read from JoeyNMT's own log, so that what is timed is what JoeyNMT times:

* training throughput: per epoch, its "num. of tokens" (target tokens, eos included) over its
  training seconds of that epoch (validation and checkpointing excluded, batching included);
  the median over epochs after the first (warm-up);
* the dev curve: the cumulative training seconds at each epoch's end and JoeyNMT's own greedy
  dev BLEU (sacrebleu's defaults on the detokenized symbols, as :func:`data.bleu`);
* beam decoding: its "Generation took" seconds for the test set; test BLEU is computed here
  from its output file with :func:`data.bleu`.

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import math
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import data

EPOCH = re.compile(r"Epoch\s+\d+, total training loss.*num. of tokens: (\d+), ([\d.]+)\[sec\]")
VALID = re.compile(r"Evaluation result \(greedy\): bleu:\s+([\d.]+)")
GENERATION = re.compile(r"Generation took ([\d.]+)\[sec\]")

CONFIG = """\
name: "reverse"
joeynmt_version: "2.3.0"
model_dir: "{model_dir}"
use_cuda: False
random_seed: {seed}
data:
    train: "{data}/train"
    dev: "{data}/dev"
    test: "{data}/test"
    dataset_type: "plain"
    src: {{lang: "src", level: "word", voc_min_freq: 1, max_length: 25, lowercase: False}}
    trg: {{lang: "tgt", level: "word", voc_min_freq: 1, max_length: 25, lowercase: False}}
testing:
    n_best: 1
    beam_size: 5
    beam_alpha: 0.6
    batch_size: 64
    batch_type: "sentence"
    max_output_length: 30
    eval_metrics: ["bleu"]
training:
    optimizer: "adam"
    learning_rate: 0.002
    learning_rate_min: 0.00001
    scheduling: "exponential"  # gamma 1: a constant rate (JoeyNMT needs a scheduler; its
    decrease_factor: 1.0       # "plateau" fails on current torch)
    batch_size: 64
    batch_type: "sentence"
    epochs: {epochs}
    validation_freq: {steps_per_epoch}
    logging_freq: {steps_per_epoch}
    early_stopping_metric: "bleu"
    shuffle: True
    overwrite: True
    keep_best_ckpts: 1
    print_valid_sents: []
model:
    initializer: "xavier_uniform"
    encoder:
        type: "recurrent"
        rnn_type: "lstm"
        embeddings: {{embedding_dim: 128, scale: False}}
        hidden_size: 256
        bidirectional: True
        num_layers: 1
        dropout: 0.0
    decoder:
        type: "recurrent"
        rnn_type: "lstm"
        embeddings: {{embedding_dim: 128, scale: False}}
        hidden_size: 256
        num_layers: 1
        dropout: 0.0
        hidden_dropout: 0.0
        attention: "luong"
        input_feeding: True
        init_hidden: "bridge"
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    load_start = data.load_now()
    with tempfile.TemporaryDirectory(prefix="peers-joeynmt-") as tmp:
        folder = data.write_pairs(Path(tmp) / "data", args.seed)
        model_dir = Path(tmp) / "model"
        config = Path(tmp) / "config.yaml"
        config.write_text(
            CONFIG.format(
                model_dir=model_dir,
                data=folder,
                seed=args.seed,
                epochs=args.epochs,
                steps_per_epoch=math.ceil(data.N_TRAIN / 64),
            )
        )
        train_log = _run([sys.executable, "-m", "joeynmt", "train", str(config), "--skip-test"])
        load_mid = data.load_now()
        out = Path(tmp) / "hyp"
        test_log = _run([sys.executable, "-m", "joeynmt", "test", str(config), "-o", str(out)])
        hyps = Path(f"{out}.test").read_text(encoding="utf-8").splitlines()
        refs = (folder / "test.tgt").read_text(encoding="utf-8").splitlines()
    epochs = [(int(n), float(s)) for n, s in EPOCH.findall(train_log)]
    rates = [n / s for n, s in epochs]
    valid = [float(b) for b in VALID.findall(train_log)]
    if len(valid) != len(epochs):
        raise SystemExit(f"expected one validation per epoch, got {len(valid)} for {len(epochs)}")
    seconds = 0.0
    curve = []
    for k, ((_, s), b) in enumerate(zip(epochs, valid, strict=True), 1):
        seconds += s
        curve.append({"epoch": k, "train_s": seconds, "bleu": b})
    generation = float(GENERATION.findall(test_log)[-1])  # dev is decoded first, then test
    data.emit(
        {
            "side": "joeynmt",
            "task": "seq2seq",
            "precision": "fp32",
            "train_tokens_per_s": data.median(rates[1:]),
            "train_epochs": rates,
            "dev_curve": curve,
            "test_bleu": data.bleu(hyps, refs),
            "beam_sentences_per_s": len(refs) / generation,
            "beam_seconds": generation,
            "load": [load_start, load_mid, data.load_now()],
        }
    )


def _run(command: list[str]) -> str:
    """Runs JoeyNMT; returns its log (stdout and stderr), raising with its tail on failure."""
    done = subprocess.run(command, capture_output=True, text=True)
    log = done.stdout + done.stderr
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[1:4])} failed ({done.returncode}):\n{log[-3000:]}")
    return log


if __name__ == "__main__":
    main()
