"""`lstmkit lm train|eval|predict|generate`: the language model from the command line."""

from __future__ import annotations

import argparse
import inspect

from lstmkit.cli import output
from lstmkit.cli.options import (
    command_parser,
    group,
    option,
    positive_float,
    positive_int,
    preset,
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
from lstmkit.data import BUILTIN, generate_passages
from lstmkit.errors import UserError
from lstmkit.lm.task import METRICS
from lstmkit.models import LMConfig
from lstmkit.nn.rnn import CELLS
from lstmkit.tokenizers import KINDS

MODEL_HELP = {
    "embedding_size": (positive_int, "width of the token embeddings"),
    "hidden_size": (positive_int, "width of each recurrent layer"),
    "num_layers": (positive_int, "recurrent layers"),
    "cell": (str, "recurrent cell"),
    "dropout": (probability, "locked dropout on the last layer's output"),
    "embedding_dropout": (probability, "drop whole token types from the embedding"),
    "input_dropout": (probability, "locked dropout on the embedded input"),
    "layer_dropout": (probability, "locked dropout between recurrent layers"),
    "weight_drop": (
        probability,
        "DropConnect on the recurrent weights (AWD-LSTM; default: 0.3 for the LSTM cell, 0 for "
        "the others)",
    ),
    "tie_weights": (bool, "share the embedding and output matrices"),
}
CHOICES = {"cell": CELLS}
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
    own = _estimator_defaults()
    data = group(p, "data")
    option(data, "--data", help=f"file, folder or built-in corpus ({', '.join(BUILTIN)})")
    option(data, "--train", help="training file or folder (instead of --data)")
    option(data, "--valid", help="validation file or folder (default: split from --train)")
    option(data, "--test", help="test file or folder")
    option(data, "--valid-fraction", type=probability, default=0.05, help="share split off")
    option(data, "--test-fraction", type=probability, default=0.05, help="share split off")
    tok = group(p, "tokenizer")
    option(tok, "--tokenizer", choices=KINDS, default=own["tokenizer"], help="what a token is")
    option(tok, "--vocab-size", type=positive_int, help="vocabulary size (default: all; 8000)")
    option(tok, "--min-freq", type=positive_int, help="word tokenizer: minimum count")
    dataclass_options(group(p, "model"), LMConfig, MODEL_HELP, CHOICES, skip={"vocab_size"})
    batching = group(p, "batching")
    option(
        batching,
        "--batch-size",
        type=positive_int,
        default=own["batch_size"],
        help="parallel streams",
    )
    option(batching, "--bptt", type=positive_int, default=own["bptt"], help="truncated BPTT window")
    option(
        batching,
        "--state-reset",
        type=probability,
        default=own["state_reset"],
        help="probability that a stream's carried state is zeroed before a window, so that "
        "the model also learns to start from an empty memory, as a prompt does (0: never)",
    )
    add_training_options(p)
    preset(p, {**own["optim"], **own["training"]})
    restrict(p, "monitor", METRICS)
    printable(p)


def _estimator_defaults() -> dict:
    """The Python API's defaults, so that the command line has the same: ``LanguageModel``'s
    arguments and its optimiser and training defaults (over OptimConfig's and TrainConfig's)."""
    from lstmkit.lm import LanguageModel

    own = {
        name: parameter.default
        for name, parameter in inspect.signature(LanguageModel).parameters.items()
    }
    return {**own, "optim": LanguageModel.default_optim, "training": LanguageModel.default_train}


TRAIN_DOC = """Train a language model. Every option can also come from --config FILE (YAML,
TOML or JSON, the options' names as keys; or a run's config.json, to replay it); flags override
the file. --print-config shows the settings a run would use, as a config file."""


def run_train(args: argparse.Namespace) -> int:
    from lstmkit.data import load_corpus
    from lstmkit.lm import LanguageModel

    s = settings(args)
    if s["resume"] is not None:
        resume, spec = resume_target(s, "lm", DATA_OPTIONS)
        estimator = LanguageModel(train=train_settings(s, s["given_"]))
    else:
        estimator, resume, spec = _estimator(s), None, None
    corpus = load_corpus(**(spec or {**{k: s[k] for k in DATA_OPTIONS}, "seed": s["seed"]}))
    if resume is None:  # after the data is read: bad data leaves no empty --out behind
        check_new_run(s)
    lm = estimator.fit(corpus, out=s["out"], progress=s["progress"], resume=resume)
    result = {**train_result(lm, s["out"]), "best_valid_loss": lm.progress_.best}
    if corpus.has("test"):  # a file's test lines are scored piece by piece
        result["test"] = lm.evaluate(corpus.stream("test"))
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
        model={k: s[k] for k in MODEL_HELP},
        batch_size=s["batch_size"],
        bptt=s["bptt"],
        state_reset=s["state_reset"],
        optim=optim_settings(s),
        train=train_settings(s),
        tokenizer_options=tokenizer_options,
    )


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
    from lstmkit.data import eval_source
    from lstmkit.lm import LanguageModel

    s = settings(args)
    if s["data"] is None:
        raise UserError("--data: expected the text to score (a file, folder or built-in name)")
    text, name = eval_source(s["data"], s["split"], s["seed"])
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
    p.set_defaults(flag_aliases={"k": "--top-k"})  # LanguageModel.predict_next(text, k)


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
