"""`lstmkit seq2seq train|eval|translate`: sequence-to-sequence models from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lstmkit.cli import output
from lstmkit.cli.options import (
    command_parser,
    group,
    nonnegative_float,
    option,
    positive_float,
    positive_int,
    printable,
    probability,
    restrict,
    settings,
    unit_interval,
)
from lstmkit.cli.training import (
    add_training_options,
    check_new_run,
    dataclass_options,
    optim_settings,
    resume_target,
    train_result,
    train_settings,
)
from lstmkit.data.numbers import NUMBER_TASKS
from lstmkit.errors import UserError
from lstmkit.models.attention import ATTENTIONS, LUONG_SCORES
from lstmkit.models.seq2seq import EMBEDDING_INITS, Seq2SeqConfig
from lstmkit.seq2seq.task import METRICS
from lstmkit.tokenizers import KINDS

MODEL_HELP = {
    "embedding_size": (positive_int, "width of the token embeddings"),
    "hidden_size": (positive_int, "width of each LSTM layer (per direction)"),
    "num_layers": (positive_int, "LSTM layers of the encoder and of the decoder"),
    "dropout": (probability, "dropout on embeddings, between layers and before the output"),
    "bidirectional": (bool, "bidirectional encoder"),
    "attention": (str, "none: the notes' context vector W alone"),
    "luong_score": (str, "Luong attention's score"),
    "input_feeding": (bool, "Luong: feed the attentional state to the next step"),
    "tie_tgt_embeddings": (bool, "decoder output layer shares its input embeddings"),
    "embedding_init": (str, "initial embeddings: normal, torch's N(0, 1); scaled, N(0, 1/E)"),
}
SKIP = {"src_vocab_size", "tgt_vocab_size", "pad_id", "bos_id", "eos_id", "bidirectional"}
CHOICES = {"attention": ATTENTIONS, "luong_score": LUONG_SCORES, "embedding_init": EMBEDDING_INITS}
DATA_OPTIONS = (
    "data",
    "src",
    "tgt",
    "valid",
    "test",
    "valid_src",
    "valid_tgt",
    "test_src",
    "test_tgt",
    "valid_fraction",
    "test_fraction",
)
ESTIMATOR_KEYS = (
    "src_tokenizer",
    "tgt_tokenizer",
    "src_vocab_size",
    "tgt_vocab_size",
    "joint_vocab",
    "batch_size",
    "max_src_len",
    "max_tgt_len",
    "reverse_source",
    "label_smoothing",
    "teacher_forcing",
)
DECODE_KEYS = ("method", "beam_size", "length_penalty", "max_len_ratio", "max_len")


def register(commands) -> None:
    parser = commands.add_parser("seq2seq", help="sequence to sequence: train, eval, translate")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    _register_train(verbs)
    _register_eval(verbs)
    _register_translate(verbs)


# ---------------------------------------------------------------------- train
def _register_train(verbs) -> None:
    p = command_parser(
        verbs, "train", run_train, help="train a seq2seq model", description=TRAIN_DOC
    )
    data = group(p, "data")
    option(data, "--data", help=f"TSV of pairs (source, target) or {', '.join(NUMBER_TASKS)}")
    option(data, "--src", help="source sentences, one per line (with --tgt, instead of --data)")
    option(data, "--tgt", help="target sentences, line-aligned with --src")
    option(data, "--valid", help="validation TSV (with --data)")
    option(data, "--test", help="test TSV (with --data)")
    for part in ("valid", "test"):
        for side in ("src", "tgt"):
            option(data, f"--{part}-{side}", help=f"{part} {side} file (with --src/--tgt)")
    option(data, "--valid-fraction", type=probability, default=0.05, help="share split off")
    option(data, "--test-fraction", type=probability, default=0.05, help="share split off")
    tok = group(p, "tokenizers")
    option(
        tok,
        "--tokenizer",
        choices=KINDS,
        help="both sides' tokens (--src-tokenizer and --tgt-tokenizer override it)",
    )
    option(tok, "--src-tokenizer", choices=KINDS, default="word", help="source tokens")
    option(tok, "--tgt-tokenizer", choices=KINDS, default="word", help="target tokens")
    option(tok, "--src-vocab-size", type=positive_int, help="source vocabulary (default: all)")
    option(tok, "--tgt-vocab-size", type=positive_int, help="target vocabulary (default: all)")
    option(
        tok,
        "--joint-vocab",
        action="store_true",
        default=False,
        help="one tokenizer for both sides (--src-tokenizer, --src-vocab-size)",
    )
    model = group(p, "model")
    dataclass_options(model, Seq2SeqConfig, MODEL_HELP, CHOICES, skip=SKIP)
    option(
        model,
        "--unidirectional",
        dest="bidirectional",
        action="store_false",
        default=True,
        help="read the source in one direction only (the encoder is bidirectional without "
        "this flag, as in the notes)",
    )
    batching = group(p, "batching and loss")
    option(batching, "--batch-size", type=positive_int, default=64, help="sentences per batch")
    option(batching, "--max-src-len", type=positive_int, help="leave out longer training pairs")
    option(batching, "--max-tgt-len", type=positive_int, help="leave out longer training pairs")
    option(
        batching,
        "--reverse-source",
        action="store_true",
        default=False,
        help="read the source backwards (Sutskever et al. 2014)",
    )
    option(batching, "--label-smoothing", type=probability, default=0.0, help="epsilon")
    option(
        batching,
        "--teacher-forcing",
        type=unit_interval,
        default=1.0,
        help="probability of feeding the gold previous token",
    )
    add_training_options(p)
    restrict(p, "monitor", METRICS)
    printable(p, train_options)


TRAIN_DOC = """Train a sequence-to-sequence LSTM: bidirectional encoder, context vector, decoder,
optional attention. Every option can also come from --config FILE (YAML, TOML or JSON, or a run's
config.json to replay it); flags override the file; --print-config shows the settings a run
would use. --monitor bleu|chrf|exact selects the model on greedy translations of the validation
set. The built-in tasks (numbers-fr, numbers-de) come with a small model's settings that train in
minutes on a CPU (word sources, German targets as characters, 1x256 Luong attention, 3 epochs);
options you give override them."""


# The built-in tasks train out of the box in minutes on a CPU: a small Luong model (its decoder
# runs the whole target in one LSTM call), German targets as characters (a German number is one
# word). Options the user sets, in a file or as flags, win.
TASK_PRESETS = {
    "numbers-fr": {"src_tokenizer": "word", "tgt_tokenizer": "word"},
    "numbers-de": {"src_tokenizer": "word", "tgt_tokenizer": "char"},
}
SMALL_MODEL = {
    "embedding_size": 64,
    "hidden_size": 256,
    "num_layers": 1,
    "dropout": 0.1,
    "attention": "luong",
    "batch_size": 64,
    "lr": 0.003,
    "schedule": "cosine",
    "warmup_steps": 100,
    "epochs": 3,
    "monitor": "exact",
}


def train_options(args: argparse.Namespace) -> dict:
    """:func:`settings`, with --tokenizer as each side's where that side's is not given, then a
    built-in task's preset for what the user left out."""
    s = settings(args)
    if s["tokenizer"] is not None:
        for side in ("src_tokenizer", "tgt_tokenizer"):
            if side not in s["given_"]:
                s[side] = s["tokenizer"]
                s["given_"].add(side)
    if s["data"] in TASK_PRESETS and not Path(s["data"]).exists():
        preset = {**SMALL_MODEL, **TASK_PRESETS[s["data"]]}
        s.update({k: v for k, v in preset.items() if k not in s["given_"]})
    return s


def run_train(args: argparse.Namespace) -> int:
    from lstmkit.seq2seq import Seq2Seq

    s = train_options(args)
    if s["resume"] is not None:
        resume, spec = resume_target(s, "seq2seq", DATA_OPTIONS)
        estimator = Seq2Seq(train=train_settings(s, s["given_"]))
    else:
        estimator, resume, spec = _estimator(s), None, None
    corpus = _load(spec, s)
    if resume is None:  # after the data is read: bad data leaves no empty --out behind
        check_new_run(s)
    s2s = estimator.fit(corpus, out=s["out"], progress=s["progress"], resume=resume)
    result = train_result(s2s, s["out"])
    if len(corpus.test):
        scores = s2s.evaluate(corpus.test.src, corpus.test.tgt, method="greedy")
        result["test"] = {k: v for k, v in scores.items() if k != "hypotheses"}
    output.emit(result, s["json"], train_table)
    return 0


def _estimator(s: dict):
    from lstmkit.seq2seq import Seq2Seq

    model = {k: s[k] for k in MODEL_HELP}
    return Seq2Seq(
        **{k: s[k] for k in ESTIMATOR_KEYS},
        model=model,
        optim=optim_settings(s),
        train=train_settings(s),
    )


def _load(spec: dict | None, s: dict):
    from lstmkit.data import load_pairs

    if spec is not None:
        return load_pairs(**spec)
    valid, test = s["valid"], s["test"]
    if s["src"] is not None or s["tgt"] is not None:
        if s["src"] is None or s["tgt"] is None:
            raise UserError("--src and --tgt: expected both, got one")
        valid, test = _side_pair(s, "valid"), _side_pair(s, "test")
    return load_pairs(
        s["data"],
        src=s["src"],
        tgt=s["tgt"],
        valid=valid,
        test=test,
        seed=s["seed"],
        valid_fraction=s["valid_fraction"],
        test_fraction=s["test_fraction"],
    )


def _side_pair(s: dict, part: str) -> tuple[str, str] | None:
    src, tgt = s[f"{part}_src"], s[f"{part}_tgt"]
    if (src is None) != (tgt is None):
        raise UserError(f"--{part}-src and --{part}-tgt: expected both, got one")
    return None if src is None else (src, tgt)


def train_table(r: dict) -> str:
    lines = [output.run_line(r)]
    metrics = [
        k
        for k in ("loss", "ppl", "bleu", "chrf", "exact")
        if r["history"] and k in r["history"][-1]
    ]
    rows = [[h["epoch"], h["step"], *(f"{h[k]:.4g}" for k in metrics)] for h in r["history"]]
    if rows:
        header = ["epoch", "step", *(f"valid {k}" for k in metrics)]
        lines += ["", output.format_table(header, rows)]
    if "test" in r:
        lines += ["", "test (greedy):", scores_table(r["test"])]
    return "\n".join(lines)


def scores_table(r: dict) -> str:
    rows = [["all", f"{r['bleu']:.2f}", f"{r['chrf']:.2f}", f"{r['exact']:.1f}", r["sentences"]]]
    for label, b in r.get("by_length", {}).items():
        rows.append(
            [
                f"{label} words",
                f"{b['bleu']:.2f}",
                f"{b['chrf']:.2f}",
                f"{b['exact']:.1f}",
                b["sentences"],
            ]
        )
    table = output.format_table(["source", "BLEU", "chrF", "exact %", "sentences"], rows)
    return f"{table}\n{r['signature']}"


# ---------------------------------------------------------------------- eval / translate
def _decode_options(p, default_method: str = "beam") -> None:
    d = group(p, "decoding")
    option(
        d,
        "--method",
        choices=("greedy", "beam", "sample"),
        default=default_method,
        help="how to choose each next token",
    )
    option(d, "--beam-size", type=positive_int, default=5, help="beam search: hypotheses kept")
    option(
        d,
        "--length-penalty",
        type=nonnegative_float,
        default=0.6,
        help="beam search: GNMT length penalty alpha",
    )
    option(
        d,
        "--max-len-ratio",
        type=positive_float,
        help="at most this many output tokens per source token (default: 1.5 times the "
        "largest ratio in the training pairs)",
    )
    option(d, "--max-len", type=positive_int, default=200, help="at most this many tokens")


def _register_eval(verbs) -> None:
    p = command_parser(verbs, "eval", run_eval, help="BLEU, chrF and exact match by length")
    p.add_argument("model", metavar="DIR", help="a run folder or checkpoint")
    option(p, "--data", help=f"TSV of pairs or {', '.join(NUMBER_TASKS)} (its test part)")
    option(p, "--src", help="source sentences, one per line (with --ref)")
    option(p, "--ref", help="reference translations, line-aligned with --src")
    option(p, "--seed", type=int, default=0, help="the built-in task's seed")
    option(p, "--json", action="store_true", default=False, help="print JSON")
    _decode_options(p)


def run_eval(args: argparse.Namespace) -> int:
    from lstmkit.data import load_pairs, read_parallel, read_tsv
    from lstmkit.seq2seq import Seq2Seq

    s = settings(args)
    if s["data"] is not None and s["src"] is not None:
        raise UserError("--data and --src: expected one of them, got both")
    if s["data"] is not None:
        is_task = s["data"] in NUMBER_TASKS and not Path(s["data"]).exists()
        pairs = (
            load_pairs(s["data"], seed=s["seed"]).test
            if is_task
            else read_tsv(s["data"], option="--data")
        )
    elif s["src"] is not None and s["ref"] is not None:
        pairs = read_parallel(s["src"], s["ref"], src_option="--src", tgt_option="--ref")
    else:
        raise UserError("--data, or --src with --ref: expected the sentences to score")
    s2s = Seq2Seq.load(args.model)
    scores = s2s.evaluate(pairs.src, pairs.tgt, **{k: s[k] for k in DECODE_KEYS})
    scores.pop("hypotheses")
    result = {"model": str(s2s.checkpoint_), **{k: s[k] for k in DECODE_KEYS}, **scores}
    output.emit(result, s["json"], scores_table)
    return 0


def _register_translate(verbs) -> None:
    p = command_parser(verbs, "translate", run_translate, help="translate a file or stdin")
    p.add_argument("model", metavar="DIR", help="a run folder or checkpoint")
    p.add_argument("input", metavar="FILE", nargs="?", help="sentences, one per line (stdin)")
    option(p, "--n-best", type=positive_int, help="with --json: the n best with their scores")
    option(p, "--temperature", type=positive_float, default=1.0, help="sampling temperature")
    option(p, "--top-k", type=positive_int, help="sample from the k most likely tokens")
    option(p, "--top-p", type=unit_interval, help="sample from the nucleus of this mass")
    option(p, "--seed", type=int, help="make sampling repeatable")
    option(p, "--json", action="store_true", default=False, help="one JSON object per line")
    _decode_options(p)


def run_translate(args: argparse.Namespace) -> int:
    from lstmkit.data.text import read_text
    from lstmkit.seq2seq import Seq2Seq

    s = settings(args)
    if s["n_best"] is not None and s["method"] != "beam":
        raise UserError(f"--n-best: needs --method beam, got --method {s['method']}")
    if s["n_best"] is not None and s["n_best"] > s["beam_size"]:
        raise UserError(
            f"--n-best: expected at most --beam-size {s['beam_size']}, got {s['n_best']}"
        )
    text = read_text(args.input, option="FILE") if args.input else sys.stdin.read()
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final newline ends the last line; it does not start another
    s2s = Seq2Seq.load(args.model)
    sampling = {k: s[k] for k in ("temperature", "top_k", "top_p", "seed")}
    found = s2s.translate(
        lines, **{k: s[k] for k in DECODE_KEYS}, n_best=s["n_best"] or 1, **sampling
    )
    for line, hyps in zip(lines, found, strict=True):
        if s["json"]:
            best = [{"translation": t, "score": score} for t, score in hyps]
            print(json.dumps({"source": line, "translations": best}, ensure_ascii=False))
        else:
            print(hyps[0][0] if hyps else "")
    return 0
