"""The bad-input sweep's cases for loading what you did not write: crafted or damaged run folders
and configs (issue 23, section 2).

``prepare`` makes crafted copies of the workspace's tiny checkpoints, each with a manifest that
matches its files (as an attacker would write one), so that what is refused is the content
itself, not a checksum.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import torch
from bad_input_case import Case
from safetensors.torch import load_file, save_file


def remanifest(checkpoint: Path) -> None:
    """A manifest.json listing the checkpoint's regular files as they now are."""
    files = {}
    for path in sorted(checkpoint.rglob("*")):
        if path.name == "manifest.json" or path.is_symlink() or not path.is_file():
            continue
        data = path.read_bytes()
        rel = path.relative_to(checkpoint).as_posix()
        files[rel] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    (checkpoint / "manifest.json").write_text(json.dumps({"files": files}))


def crafted(ws: Path, source: str, name: str, change: Callable[[Path], None]) -> None:
    """``ws/name``: a copy of the checkpoint ``ws/source/best`` changed by ``change``."""
    target = ws / name
    shutil.copytree(ws / source / "best", target)
    change(target)
    remanifest(target)


def edit_config(edit: Callable[[dict], None]) -> Callable[[Path], None]:
    def change(folder: Path) -> None:
        config = json.loads((folder / "config.json").read_text())
        edit(config)
        (folder / "config.json").write_text(json.dumps(config))

    return change


def set_model(**values) -> Callable[[Path], None]:
    return edit_config(lambda config: config["model"].update(values))


def link(name: str, target: str) -> Callable[[Path], None]:
    def change(folder: Path) -> None:
        path = folder / name
        shutil.rmtree(path) if path.is_dir() else path.unlink()
        path.symlink_to(target)

    return change


def nan_weights(folder: Path) -> None:
    tensors = load_file(folder / "model.safetensors")
    save_file(
        {k: torch.full_like(t, float("nan")) for k, t in tensors.items()},
        folder / "model.safetensors",
    )


def small_vocabulary(folder: Path) -> None:
    path = folder / "tokenizer" / "tokenizer.json"
    config = json.loads(path.read_text())
    config["tokens"] = config["tokens"][:-3]
    path.write_text(json.dumps(config))


def deep_config(folder: Path) -> None:
    depth = 200_000
    text = '{"format": "lstmkit-checkpoint", "model": ' + "[" * depth + "]" * depth + "}"
    (folder / "config.json").write_text(text)


def make_fifo(name: str) -> Callable[[Path], None]:
    def setup(ws: Path) -> None:
        os.mkfifo(ws / name)

    return setup


def prepare(ws: Path) -> None:
    """Adds what these cases need to the sweep's workspace (after its tiny runs are trained)."""
    crafted(ws, "lm", "lm-layers", set_model(num_layers=1_000_000))
    crafted(ws, "lm", "lm-hidden", set_model(hidden_size=1_000_000_000))
    crafted(ws, "lm", "lm-hidden-40", set_model(hidden_size=40))
    crafted(ws, "s2s", "s2s-layers", set_model(num_layers=1_000_000))
    crafted(ws, "fc", "fc-hidden", set_model(hidden_size=1_000_000_000))
    crafted(ws, "fc", "fc-layers", set_model(num_layers=1_000_000))
    crafted(ws, "lm", "lm-config-zero", link("config.json", "/dev/zero"))
    crafted(ws, "lm", "lm-fifo", lambda folder: (folder / "config.json").unlink())
    shutil.copytree(ws / "lm" / "best" / "tokenizer", ws / "outside-tokenizer")
    crafted(ws, "lm", "lm-tokenizer-out", link("tokenizer", "../outside-tokenizer"))
    crafted(ws, "lm", "lm-passwd", link("tokenizer/tokenizer.json", "/etc/passwd"))
    crafted(ws, "lm", "lm-weights-out", link("model.safetensors", "../lm/best/model.safetensors"))
    crafted(ws, "lm", "lm-nan", nan_weights)
    crafted(ws, "lm", "lm-vocab", small_vocabulary)
    crafted(ws, "lm", "lm-unknown-key", set_model(hiden_size=8))
    crafted(ws, "lm", "lm-list", edit_config(lambda config: config.update(model=[1, 2])))
    crafted(ws, "lm", "lm-type", set_model(hidden_size="4"))
    crafted(ws, "lm", "lm-deep", deep_config)
    crafted(ws, "lm", "lm-as-s2s", edit_config(lambda config: config.update(task="seq2seq")))
    crafted(ws, "s2s", "s2s-as-fc", edit_config(lambda config: config.update(task="forecast")))
    crafted(ws, "fc", "fc-as-lm", edit_config(lambda config: config.update(task="lm")))


LAYERS = "config.json: model.num_layers: expected at most"
OUTSIDE = "links outside the folder"
CASES: list[Case] = [
    # sizes checked against the weights before anything is built
    Case(
        "load-lm-huge-layers",
        "config.json: num_layers 1,000,000 (lm)",
        "lm eval {ws}/lm-layers --data {ws}/text.txt",
        LAYERS,
        file="lm-layers/config.json",
    ),
    Case(
        "load-lm-huge-hidden",
        "config.json: hidden_size 10^9 (lm)",
        "lm predict {ws}/lm-hidden 'the cat'",
        "config.json: model: sizes that cannot be built",
        file="lm-hidden/config.json",
    ),
    Case(
        "load-lm-other-hidden",
        "config.json: hidden_size not the weights' (lm)",
        "lm generate {ws}/lm-hidden-40",
        "config.json: model: the config makes layers.0.weight_ih_l0 of shape [160, 4], "
        "model.safetensors holds [16, 4]",
        file="lm-hidden-40/config.json",
    ),
    Case(
        "load-s2s-huge-layers",
        "config.json: num_layers 1,000,000 (seq2seq)",
        "seq2seq translate {ws}/s2s-layers {ws}/a.en",
        LAYERS,
        file="s2s-layers/config.json",
    ),
    Case(
        "load-fc-huge-hidden",
        "config.json: hidden_size 10^9 (forecast)",
        "forecast predict {ws}/fc-hidden --csv {ws}/sales.csv",
        "config.json: model: sizes that cannot be built",
        file="fc-hidden/config.json",
    ),
    Case(
        "load-fc-huge-layers",
        "config.json: num_layers 1,000,000 (forecast)",
        "forecast predict {ws}/fc-layers --csv {ws}/sales.csv",
        LAYERS,
        file="fc-layers/config.json",
    ),
    Case(
        "load-export-huge-layers",
        "config.json: num_layers 1,000,000 (export)",
        "export {ws}/lm-layers --out {ws}/new",
        LAYERS,
        file="lm-layers/config.json",
    ),
    # only regular files inside the folder
    Case(
        "load-config-dev-zero",
        "config.json a link to /dev/zero",
        "lm eval {ws}/lm-config-zero --data {ws}/text.txt",
        "(to /dev/zero)",
        file="lm-config-zero/config.json",
    ),
    Case(
        "load-config-fifo",
        "config.json a FIFO",
        "lm predict {ws}/lm-fifo 'the cat'",
        "config.json: expected a regular file, got a FIFO",
        file="lm-fifo/config.json",
        setup=make_fifo("lm-fifo/config.json"),
    ),
    Case(
        "load-inspect-fifo",
        "config.json a FIFO (inspect)",
        "inspect {ws}/lm-fifo --text the --out {ws}/new.html",
        "config.json: expected a regular file, got a FIFO",
        file="lm-fifo/config.json",
        setup=make_fifo("lm-fifo/config.json"),
    ),
    Case(
        "load-tokenizer-outside",
        "tokenizer/ a link outside the checkpoint",
        "lm eval {ws}/lm-tokenizer-out --data {ws}/text.txt",
        OUTSIDE,
        file="lm-tokenizer-out/tokenizer",
    ),
    Case(
        "load-tokenizer-passwd",
        "tokenizer.json a link to /etc/passwd",
        "lm predict {ws}/lm-passwd 'the cat'",
        "(to /etc/passwd)",
        file="lm-passwd/tokenizer/tokenizer.json",
    ),
    Case(
        "load-export-passwd",
        "tokenizer.json a link to /etc/passwd (export)",
        "export {ws}/lm-passwd --out {ws}/new",
        "(to /etc/passwd)",
        file="lm-passwd/tokenizer/tokenizer.json",
    ),
    Case(
        "load-weights-outside",
        "model.safetensors a link outside the checkpoint",
        "inspect {ws}/lm-weights-out --text the --out {ws}/new.html",
        OUTSIDE,
        file="lm-weights-out/model.safetensors",
    ),
    Case(
        "load-serve-weights-outside",
        "model.safetensors a link outside the checkpoint (serve)",
        "serve {ws}/lm-weights-out --port 0",
        OUTSIDE,
        file="lm-weights-out/model.safetensors",
    ),
    # damaged weights and vocabularies
    Case(
        "load-nan-weights",
        "all-NaN weights",
        "lm predict {ws}/lm-nan 'the cat'",
        "holds NaN or infinite values",
        file="lm-nan/model.safetensors",
    ),
    Case(
        "load-small-vocabulary",
        "a vocabulary smaller than the weights'",
        "lm generate {ws}/lm-vocab",
        "expected a vocabulary of 25 tokens (the weights' vocab_size), got 22",
        file="lm-vocab/tokenizer",
    ),
    # configs of the wrong layout
    Case(
        "load-config-unknown-key",
        "config.json: an unknown model key",
        "lm eval {ws}/lm-unknown-key --data {ws}/text.txt",
        "config.json: model.hiden_size: expected one of the LMConfig fields",
        file="lm-unknown-key/config.json",
    ),
    Case(
        "load-config-list",
        "config.json: a list where an object belongs",
        "export {ws}/lm-list --out {ws}/new",
        "config.json: model: expected a JSON object, got list",
        file="lm-list/config.json",
    ),
    Case(
        "load-config-type",
        "config.json: a string for hidden_size",
        "inspect {ws}/lm-type --text the --out {ws}/new.html",
        "config.json: model.hidden_size: expected a positive integer, got '4'",
        file="lm-type/config.json",
    ),
    Case(
        "load-config-deep",
        "config.json: 200,000 levels of nesting",
        "lm predict {ws}/lm-deep 'the cat'",
        "config.json: invalid JSON: nested too deeply",
        file="lm-deep/config.json",
    ),
    Case(
        "load-task-lm-as-seq2seq",
        "config.json: an lm's task changed to seq2seq",
        "seq2seq translate {ws}/lm-as-s2s {ws}/a.en",
        "config.json: tokenizer: expected one of the keys of a seq2seq run's config",
        file="lm-as-s2s/config.json",
    ),
    Case(
        "load-task-seq2seq-as-forecast",
        "config.json: a seq2seq model's task changed to forecast",
        "forecast predict {ws}/s2s-as-fc --csv {ws}/sales.csv",
        "config.json: model.src_vocab_size: expected one of the ForecastConfig fields",
        file="s2s-as-fc/config.json",
    ),
    Case(
        "load-task-forecast-as-lm",
        "config.json: a forecaster's task changed to lm (serve)",
        "serve {ws}/fc-as-lm --port 0",
        "config.json: model.horizon: expected one of the LMConfig fields",
        file="fc-as-lm/config.json",
    ),
]
