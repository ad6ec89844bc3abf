"""`lstmkit lm train|eval|predict|generate`: the language model from the command line."""

from __future__ import annotations

import argparse
from dataclasses import fields
from pathlib import Path

from lstmkit.cli import output
from lstmkit.cli.options import (
    command_parser,
    group,
    nonnegative_float,
    nonnegative_int,
    option,
    positive_float,
    positive_int,
    probability,
    settings,
    unit_interval,
)
from lstmkit.data import BUILTIN, generate_passages
from lstmkit.errors import UserError
from lstmkit.models import LMConfig
from lstmkit.nn.rnn import CELLS
from lstmkit.tokenizers import KINDS
from lstmkit.train.optim import OPTIMIZERS, SCHEDULES, OptimConfig
from lstmkit.train.trainer import TrainConfig

MODEL_HELP = {
    "embedding_size": (positive_int, "width of the token embeddings"),
    "hidden_size": (positive_int, "width of each recurrent layer"),
    "num_layers": (positive_int, "recurrent layers"),
    "cell": (str, "recurrent cell"),
    "dropout": (probability, "locked dropout on the last layer's output"),
    "embedding_dropout": (probability, "drop whole token types from the embedding"),
    "input_dropout": (probability, "locked dropout on the embedded input"),
    "layer_dropout": (probability, "locked dropout between recurrent layers"),
    "weight_drop": (probability, "DropConnect on the recurrent weights (AWD-LSTM)"),
    "tie_weights": (bool, "share the embedding and output matrices"),
}
OPTIM_HELP = {
    "optimizer": (str, "optimiser"),
    "lr": (positive_float, "peak learning rate"),
    "weight_decay": (nonnegative_float, "decoupled weight decay (AdamW) or L2 (SGD)"),
    "momentum": (nonnegative_float, "SGD momentum"),
    "schedule": (str, "learning-rate schedule"),
    "warmup_steps": (nonnegative_int, "linear warm-up steps"),
    "step_size": (positive_int, "step schedule: decay every N epochs"),
    "gamma": (unit_interval, "step and plateau schedules: decay factor"),
    "patience": (nonnegative_int, "plateau schedule: epochs without improvement"),
    "min_lr": (nonnegative_float, "cosine schedule: the floor"),
}
TRAIN_HELP = {
    "epochs": (positive_int, "passes over the training text"),
    "max_time": (positive_float, "stop after this many minutes, with a checkpoint"),
    "max_steps": (positive_int, "stop after this many optimiser steps"),
    "clip": (nonnegative_float, "gradient-norm clipping (0: off)"),
    "patience": (positive_int, "early stopping: epochs without a better validation loss"),
    "log_every": (positive_int, "steps between training-loss records"),
    "tensorboard": (bool, "also write TensorBoard scalars to <out>/tensorboard"),
    "seed": (int, "seed of initialisation, dropout and the keywords corpus"),
}
CHOICES = {"cell": CELLS, "optimizer": OPTIMIZERS, "schedule": SCHEDULES}
# Options a resumed run may change; the rest are fixed by the run being resumed.
RESUMABLE = {"epochs", "max_time", "max_steps", "patience", "out", "resume", "progress", "json"}
DATA_OPTIONS = ("data", "train", "valid", "test", "valid_fraction", "test_fraction")


def register(commands) -> None:
    lm = commands.add_parser("lm", help="language models: train, eval, predict, generate")
    verbs = lm.add_subparsers(dest="verb", metavar="VERB", required=True)
    _register_train(verbs)
    _register_eval(verbs)
    _register_predict(verbs)
    _register_generate(verbs)


# ---------------------------------------------------------------------- train
def _register_train(verbs) -> None:
    p = command_parser(
        verbs, "train", run_train, help="train a language model", description=TRAIN_DOC
    )
    data = group(p, "data")
    option(data, "--data", help=f"file, folder or built-in corpus ({', '.join(BUILTIN)})")
    option(data, "--train", help="training file or folder (instead of --data)")
    option(data, "--valid", help="validation file or folder (default: split from --train)")
    option(data, "--test", help="test file or folder")
    option(data, "--valid-fraction", type=probability, default=0.05, help="share split off")
    option(data, "--test-fraction", type=probability, default=0.05, help="share split off")
    tok = group(p, "tokenizer")
    option(tok, "--tokenizer", choices=KINDS, default="word", help="what a token is")
    option(tok, "--vocab-size", type=positive_int, help="vocabulary size (default: all; 8000)")
    option(tok, "--min-freq", type=positive_int, help="word tokenizer: minimum count")
    _dataclass_options(group(p, "model"), LMConfig, MODEL_HELP, skip={"vocab_size"})
    batching = group(p, "batching")
    option(batching, "--batch-size", type=positive_int, default=32, help="parallel streams")
    option(batching, "--bptt", type=positive_int, default=35, help="truncated BPTT window")
    _dataclass_options(group(p, "optimiser"), OptimConfig, OPTIM_HELP, prefix={"patience": "lr"})
    _dataclass_options(group(p, "training"), TrainConfig, TRAIN_HELP)
    run = group(p, "run")
    option(run, "--out", help="run folder (last/, best/, metrics.jsonl, loss.png)")
    option(run, "--overwrite", action="store_true", default=False, help="replace a run in --out")
    option(run, "--resume", metavar="DIR", help="continue a run exactly (a checkpoint or run)")
    option(run, "--no-progress", dest="progress", action="store_false", default=True)
    option(run, "--json", action="store_true", default=False, help="print the result as JSON")


TRAIN_DOC = """Train a language model. Every option can also come from --config FILE (YAML or
TOML, the options' names as keys); flags override the file."""


def _dataclass_options(g, cls, helps: dict, skip=(), prefix: dict | None = None) -> None:
    """One option per dataclass field, with the dataclass's default."""
    for f in fields(cls):
        if f.name in skip:
            continue
        convert, text = helps[f.name]
        name = f"{(prefix or {}).get(f.name, '')}_{f.name}".strip("_")
        flag = "--" + name.replace("_", "-")
        if convert is bool:
            option(g, flag, dest=name, action="store_true", default=f.default, help=text)
        else:
            kind = None if convert is str else convert
            option(
                g,
                flag,
                dest=name,
                type=kind,
                choices=CHOICES.get(f.name),
                default=f.default,
                help=text,
            )


def run_train(args: argparse.Namespace) -> int:
    from lstmkit.checkpoint import check_output_dir
    from lstmkit.data import load_corpus
    from lstmkit.lm import LanguageModel

    s = settings(args)
    if s["resume"] is not None:
        _check_resume_options(s)
        resume = _resume_checkpoint(s["resume"])
        s["out"] = s["out"] or str(resume.parent)
        estimator = LanguageModel(train=_pick(s, TRAIN_HELP, s["given_"]))
        spec = _recorded_sources(resume) if not s["given_"] & set(DATA_OPTIONS) else None
    else:
        if s["out"] is None:
            raise UserError("--out: expected the run folder to write, got none")
        check_output_dir(s["out"], s["overwrite"])
        estimator = _estimator(s)
        resume, spec = None, None
    corpus = load_corpus(**(spec or {**{k: s[k] for k in DATA_OPTIONS}, "seed": s["seed"]}))
    lm = estimator.fit(corpus, out=s["out"], progress=s["progress"], resume=resume)
    result = _train_result(lm, s["out"])
    if corpus.test.strip():
        result["test"] = lm.evaluate(corpus.test)
    if corpus.builtin == "keywords":
        result["keywords"] = _keyword_scores(lm, s["seed"])
    output.emit(result, s["json"], output.train_table)
    return 0


def _estimator(s: dict):
    from lstmkit.lm import LanguageModel

    tokenizer_options = {"min_freq": s["min_freq"]} if s["min_freq"] is not None else {}
    return LanguageModel(
        tokenizer=s["tokenizer"],
        vocab_size=s["vocab_size"],
        model=_pick(s, MODEL_HELP),
        batch_size=s["batch_size"],
        bptt=s["bptt"],
        optim={k: s["lr_patience" if k == "patience" else k] for k in OPTIM_HELP},
        train=_pick(s, TRAIN_HELP),
        tokenizer_options=tokenizer_options,
    )


def _pick(s: dict, helps: dict, only: set | None = None) -> dict:
    return {k: s[k] for k in helps if only is None or k in only}


def _check_resume_options(s: dict) -> None:
    fixed = sorted(s["given_"] - RESUMABLE - set(DATA_OPTIONS) - {"seed"})
    if fixed:
        flag = "--" + fixed[0].replace("_", "-")
        raise UserError(
            f"{flag}: fixed by the run being resumed; drop it, or start a new run with --out"
        )


def _resume_checkpoint(path: str) -> Path:
    """A run folder's ``last/``, or a checkpoint given directly."""
    path = Path(path)
    if (path / "last" / "config.json").exists():
        return path / "last"
    if (path / "config.json").exists():
        return path
    raise UserError(f"--resume {path}: expected a run folder (with last/) or a checkpoint")


def _recorded_sources(checkpoint_dir) -> dict:
    from lstmkit.checkpoint import load_checkpoint

    sources = load_checkpoint(checkpoint_dir, task="lm").config["data"].get("sources")
    if not sources:
        raise UserError(f"--resume {checkpoint_dir}: the run records no data; give --data")
    return sources


def _train_result(lm, out) -> dict:
    p = lm.progress_
    return {
        "out": str(out),
        "stopped": p.stopped,
        "epochs": p.epoch,
        "steps": p.step,
        "minutes": round(p.elapsed / 60, 2),
        "best_valid_loss": p.best,
        "history": p.history,
    }


def _keyword_scores(lm, seed: int) -> dict:
    passages = generate_passages(500, f"keywords-{seed}-test", max_filler=60)
    return {
        label: {"correct": s.correct, "total": s.total, "accuracy": s.accuracy}
        for label, s in lm.keyword_accuracy(passages).items()
    }


# ---------------------------------------------------------------------- eval / predict / generate
def _register_eval(verbs) -> None:
    p = command_parser(verbs, "eval", run_eval, help="perplexity and bits per character")
    p.add_argument("model", metavar="DIR", help="a run folder or checkpoint")
    option(p, "--data", help=f"file, folder or built-in corpus ({', '.join(BUILTIN)})")
    option(p, "--split", choices=("train", "valid", "test"), help="built-in corpus: which part")
    option(p, "--seed", type=int, default=0, help="the keywords corpus's seed")
    option(p, "--json", action="store_true", default=False, help="print JSON")


def run_eval(args: argparse.Namespace) -> int:
    from lstmkit.data import read_eval_text
    from lstmkit.lm import LanguageModel

    s = settings(args)
    if s["data"] is None:
        raise UserError("--data: expected the text to score (a file, folder or built-in name)")
    text, name = read_eval_text(s["data"], s["split"], s["seed"])
    lm = LanguageModel.load(args.model)
    result = {"model": str(lm.checkpoint_), "data": name, **lm.evaluate(text)}
    result["tokenizer"] = lm.tokenizer_.kind
    if s["data"] == "keywords" and name.startswith("keywords"):
        result["keywords"] = _keyword_scores(lm, s["seed"])
    output.emit(result, s["json"], output.eval_table)
    return 0


def _register_predict(verbs) -> None:
    p = command_parser(verbs, "predict", run_predict, help="the most likely next tokens")
    p.add_argument("model", metavar="DIR", help="a run folder or checkpoint")
    p.add_argument("text", metavar="TEXT", help="the text so far")
    option(p, "--top-k", type=positive_int, default=5, help="how many tokens to list")
    option(p, "--json", action="store_true", default=False, help="print JSON")


def run_predict(args: argparse.Namespace) -> int:
    from lstmkit.lm import LanguageModel

    s = settings(args)
    lm = LanguageModel.load(args.model)
    rows = [{"token": t, "prob": p} for t, p in lm.predict_next(args.text, s["top_k"])]
    output.emit({"text": args.text, "next": rows}, s["json"], output.predict_table)
    return 0


def _register_generate(verbs) -> None:
    p = command_parser(verbs, "generate", run_generate, help="sample a continuation")
    p.add_argument("model", metavar="DIR", help="a run folder or checkpoint")
    option(p, "--prompt", default="", help="text to continue")
    option(p, "--max-tokens", type=positive_int, default=100, help="tokens to sample")
    option(p, "--temperature", type=positive_float, default=1.0, help="softmax temperature")
    option(p, "--top-k", type=positive_int, help="sample from the k most likely tokens")
    option(p, "--top-p", type=unit_interval, help="sample from the nucleus of this mass")
    option(p, "--seed", type=int, help="make the sample repeatable")
    option(p, "--json", action="store_true", default=False, help="print JSON")


def run_generate(args: argparse.Namespace) -> int:
    from lstmkit.lm import LanguageModel

    s = settings(args)
    lm = LanguageModel.load(args.model)
    keys = ("max_tokens", "temperature", "top_k", "top_p", "seed")
    text = lm.generate(s["prompt"], **{k: s[k] for k in keys})
    output.emit(
        {"prompt": s["prompt"], "text": text, **{k: s[k] for k in keys}},
        s["json"],
        lambda r: r["prompt"] + r["text"],
    )
    return 0
