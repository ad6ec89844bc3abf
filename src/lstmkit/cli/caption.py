"""`lstmkit caption train|describe|eval`: image captioning from the command line."""

from __future__ import annotations

import argparse
import inspect
import json

from lstmkit.cli import output
from lstmkit.cli.options import (
    command_parser,
    group,
    nonnegative_float,
    option,
    positive_int,
    preset,
    printable,
    probability,
    restrict,
    settings,
)
from lstmkit.cli.training import (
    add_training_options,
    check_new_run,
    optim_settings,
    resume_target,
    train_result,
    train_settings,
)
from lstmkit.data.caption_builtin import CAPTION_BUILTIN
from lstmkit.errors import UserError

# CaptionConfig's settings a user picks (the rest are the tokenizer's ids and the image's
# channels); bool ones are --flag / --no-flag.
MODEL_HELP = {
    "attention": (str, "bahdanau: soft attention over the image's regions at every word "
                  "(Show, Attend and Tell); none: started from the pooled image alone "
                  "(Show and Tell)"),
    "gate": (bool, "scale the attended context by a learned gate per word (Show, Attend and "
             "Tell's β)"),
    "penalty": (nonnegative_float, "weight of the doubly stochastic attention penalty (every "
                "region attended about once over a caption)"),
    "embedding_size": (positive_int, "width of the word embeddings"),
    "hidden_size": (positive_int, "width of the decoder's LSTM"),
    "num_layers": (positive_int, "stacked decoder LSTM layers"),
    "dropout": (probability, "dropout on the decoder's embeddings and outputs"),
    "freeze_encoder": (bool, "keep the CNN encoder fixed (with --encoder-weights)"),
}  # fmt: skip
DATA_OPTIONS = ("captions", "images", "valid")
ESTIMATOR_KEYS = ("tokenizer", "vocab_size", "image_size", "batch_size", "augment", "lowercase")
DECODE_KEYS = ("method", "beam_size", "max_len")


def register(commands) -> None:
    parser = commands.add_parser("caption", help="image captioning: train, describe, eval")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    _register_train(verbs)
    _register_describe(verbs)
    _register_eval(verbs)


# ---------------------------------------------------------------------- train
TRAIN_DOC = """Train an image captioner: a small CNN reads the image into a grid of region
features and an LSTM decoder, started from their mean, writes the caption a word at a time,
attending over the regions at every word (Show, Attend and Tell; --attention none: Show and
Tell). --captions is a captions file (TSV/CSV image and caption, several lines per image being
several references; Flickr8k's token file; COCO's captions JSON) whose images lie in --images
(default: the file's folder), or a built-in corpus generated on first use. The model kept is
the one with the best validation BLEU-4 (greedy; --monitor cider: CIDEr-D). Every option can
also come from --config FILE; flags override it; --print-config shows the settings a run would
use."""


def _defaults() -> dict:
    """The Python API's defaults, so that the command line has the same."""
    from lstmkit.caption import Captioner
    from lstmkit.models.caption import CaptionConfig

    own = {n: p.default for n, p in inspect.signature(Captioner).parameters.items()}
    model = {n: p.default for n, p in inspect.signature(CaptionConfig).parameters.items()}
    return {**model, **own, **Captioner.default_optim, **Captioner.default_train}


def _register_train(verbs) -> None:
    from lstmkit.caption.task import METRICS
    from lstmkit.models.caption import CAPTION_ATTENTIONS

    p = command_parser(
        verbs, "train", run_train, help="train an image captioner", description=TRAIN_DOC
    )
    own = _defaults()
    data = group(p, "data")
    option(
        data,
        "--captions",
        help=f"captions file, or a built-in corpus ({', '.join(CAPTION_BUILTIN)}; default: "
        "the first)",
    )
    option(data, "--images", help="the folder the captions file's images are in")
    option(data, "--valid", help="validation captions file (default: 5%% of the images)")
    option(
        data,
        "--image-size",
        type=positive_int,
        default=own["image_size"],
        help="images are resized to this square (default: the built-in corpus's, else 128)",
    )
    option(
        data,
        "--no-lowercase",
        dest="lowercase",
        action="store_false",
        default=True,
        help="keep the captions' case (punctuation is always split off words)",
    )
    option(
        data,
        "--augment",
        action="store_true",
        default=own["augment"],
        help="shift, brighten and contrast training images (never flipped)",
    )
    tok = group(p, "tokenizer")
    option(tok, "--tokenizer", choices=("word", "char"), default=own["tokenizer"], help="units")
    option(tok, "--vocab-size", type=positive_int, help="at most this many (default: every one)")
    model = group(p, "model")
    for name, (convert, text) in MODEL_HELP.items():
        flag = "--" + name.replace("_", "-")
        if convert is bool:  # --gate: on with bahdanau attention, which alone has it
            default = None if name == "gate" else own[name]
            kind = argparse.BooleanOptionalAction
            action = option(model, flag, action=kind, default=default, help=text)
            if name == "gate":
                action.help = f"{text}; with bahdanau attention only (default: --gate)"
            continue
        choices = CAPTION_ATTENTIONS if name == "attention" else None
        kind = None if convert is str else convert
        option(model, flag, type=kind, choices=choices, default=own[name], help=text)
    option(
        model,
        "--encoder-weights",
        metavar="FILE",
        help="a pretrained CNN encoder's state dict (.safetensors or .pt, shapes checked)",
    )
    option(
        group(p, "batching"),
        "--batch-size",
        type=positive_int,
        default=own["batch_size"],
        help="images per batch, each with one of its captions",
    )
    add_training_options(p)
    preset(p, {k: own[k] for k in ("lr", "warmup_steps", "monitor", "clip")})
    restrict(p, "monitor", METRICS)
    printable(p, _settings)


def _settings(args: argparse.Namespace) -> dict:
    """:func:`settings`, with ``--gate`` not given set as the attention has it (what
    --print-config shows and a new run trains with)."""
    s = settings(args)
    if s["resume"] is None and s["gate"] is None:
        s["gate"] = s["attention"] == "bahdanau"
    return s


def run_train(args: argparse.Namespace) -> int:
    from lstmkit.caption import Captioner
    from lstmkit.caption.data import load_caption_data

    s = _settings(args)
    if s["resume"] is not None:
        resume, spec = resume_target(s, "caption", DATA_OPTIONS)
        estimator = Captioner(train=train_settings(s, s["given_"]))
    else:
        estimator, resume, spec = _estimator(s), None, None
    data = load_caption_data(**(spec or {k: s[k] for k in DATA_OPTIONS}))
    if resume is None:  # after the data is read: bad data leaves no empty --out behind
        check_new_run(s)
    captioner = estimator.fit(data, out=s["out"], progress=s["progress"], resume=resume)
    result = train_result(captioner, s["out"])
    if data.test is not None and len(data.test):
        scores = captioner.evaluate(data.test)
        result["test"] = {k: v for k, v in scores.items() if k not in _LISTS}
    output.emit(result, s["json"], train_table)
    return 0


def _estimator(s: dict):
    from lstmkit.caption import Captioner

    return Captioner(
        **{k: s[k] for k in ESTIMATOR_KEYS},
        encoder_weights=s["encoder_weights"],
        model={k: s[k] for k in MODEL_HELP},
        optim=optim_settings(s),
        train=train_settings(s),
    )


_LISTS = ("hypotheses", "references")


def train_table(r: dict) -> str:
    lines = [output.run_line(r)]
    rows = [
        # A run resumed from before CIDEr-D was scored has epochs without it.
        [h["epoch"], h["step"], f"{h['loss']:.4f}", f"{h['bleu']:.2f}", _number(h.get("cider"))]
        for h in r["history"]
    ]
    if rows:
        header = ["epoch", "step", "valid loss", "valid BLEU-4", "valid CIDEr-D"]
        lines += ["", output.format_table(header, rows, align=">" * len(header))]
    if "test" in r:
        lines += ["", "test (greedy):", scores_table(r["test"])]
    return "\n".join(lines)


def scores_table(r: dict) -> str:
    """BLEU-1 to 4, CIDEr-D, ROUGE-L and exact match against all of each image's references."""
    names = ("bleu1", "bleu2", "bleu3", "bleu4", "cider", "rouge_l", "exact")
    header = ["BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "CIDEr-D", "ROUGE-L", "exact %", "images"]
    return output.format_table(header, [[*(f"{r[k]:.2f}" for k in names), r["images"]]])


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


# ---------------------------------------------------------------------- describe, eval
def _decode_options(p) -> None:
    d = group(p, "decoding")
    option(d, "--method", choices=("greedy", "beam"), default="greedy", help="how to decode")
    option(d, "--beam-size", type=positive_int, default=5, help="hypotheses the beam keeps")
    option(d, "--max-len", type=positive_int, default=30, help="most words in a caption")


def _register_describe(verbs) -> None:
    p = command_parser(verbs, "describe", run_describe, help="print one caption per image")
    p.add_argument("model", metavar="DIR", help="a run folder or checkpoint")
    p.add_argument("images", metavar="IMAGE", nargs="+", help="image files (PNG, JPEG)")
    option(
        p,
        "--n-best",
        type=positive_int,
        default=1,
        help="with --json: the N best captions of the beam, with their log-probabilities",
    )
    option(p, "--json", action="store_true", default=False, help="one JSON object per image")
    _decode_options(p)


def run_describe(args: argparse.Namespace) -> int:
    from lstmkit.caption import Captioner
    from lstmkit.data.images import open_image

    s = settings(args)
    if s["n_best"] > 1 and not (s["json"] and s["method"] == "beam"):
        raise UserError(f"--n-best: needs --json and --method beam, got --n-best {s['n_best']}")
    if s["n_best"] > s["beam_size"]:
        raise UserError(
            f"--n-best: expected at most --beam-size {s['beam_size']}, got {s['n_best']}"
        )
    for path in args.images:  # unreadable images: named before the model loads
        open_image(path).close()
    captioner = Captioner.load(args.model)
    decoding = {k: s[k] for k in DECODE_KEYS}
    if not s["json"]:
        for caption in captioner.describe(list(args.images), **decoding):
            print(caption)
        return 0
    n_best = None
    if s["method"] == "beam":
        n_best = captioner.describe_n_best(
            list(args.images), s["beam_size"], s["n_best"], s["max_len"]
        )
    captions = captioner.describe(list(args.images), **decoding)
    for k, (path, caption) in enumerate(zip(args.images, captions, strict=True)):
        line: dict = {"image": path, "caption": caption}
        if n_best is not None:
            line["n_best"] = [{"caption": c, "log_prob": round(p, 4)} for c, p in n_best[k]]
        print(json.dumps(line, ensure_ascii=False))
    return 0


def _register_eval(verbs) -> None:
    p = command_parser(verbs, "eval", run_eval, help="BLEU-1 to 4, CIDEr-D, ROUGE-L, exact match")
    p.add_argument("model", metavar="DIR", help="a run folder or checkpoint")
    option(
        p,
        "--captions",
        help=f"captions file, or a built-in corpus ({', '.join(CAPTION_BUILTIN)}; its test images)",
    )
    option(p, "--images", help="the folder the captions file's images are in")
    option(p, "--json", action="store_true", default=False, help="print JSON")
    _decode_options(p)


def run_eval(args: argparse.Namespace) -> int:
    from lstmkit.caption import Captioner

    s = settings(args)
    if s["captions"] is None:
        raise UserError("--captions: expected the captions to score, got none")
    captioner = Captioner.load(args.model)
    decoding = {k: s[k] for k in DECODE_KEYS}
    scores = captioner.evaluate(s["captions"], s["images"], **decoding)
    for key in _LISTS:
        del scores[key]
    result = {"model": str(captioner.checkpoint_), **decoding, **scores}
    output.emit(result, s["json"], scores_table)
    return 0
