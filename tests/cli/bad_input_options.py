"""The bad-input sweep's cases for the command line as a person uses it: options, config files
(issue 23, sections 4 and 5).
"""

from __future__ import annotations

import os
from pathlib import Path

from bad_input_case import Case

NEW = "--data {ws}/text.txt --out {ws}/new"
LM_TRAIN = f"lm train {NEW}"


def _bomb(levels: int = 9) -> str:
    """A "billion laughs" YAML file: the value of ``lr``, a list whose each item is a list of ten
    aliases of the one before (10**9 strings when expanded)."""
    lines = ["lr:", "  - &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels):
        lines.append(f"  - &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]")
    return "\n".join([*lines, ""])


CONFIGS = {
    "bomb.yaml": _bomb(),
    "digits.yaml": "hidden_size: " + "9" * 5000 + "\n",
    "digits.toml": "hidden_size = " + "9" * 5000 + "\n",
    "digits.json": '{"hidden_size": ' + "9" * 5000 + "}",
    "twice.yaml": "lr: 0.1\nepochs: 2\nlr: 0.2\n",
    "twice.json": '{"lr": 0.1, "lr": 0.2}',
    "twice.toml": "lr = 0.1\nlr = 0.2\n",
    "spellings.yaml": "hidden_size: 8\nhidden-size: 16\n",
    "sections.yaml": "lr: 0.1\noptim:\n  lr: 0.2\n",
    "lr-inf.yaml": "lr: .inf\n",
    "ema.yaml": "training:\n  ema: 1.5\n",
    "lr-inf.toml": "lr = inf\n",
    "long-value.yaml": "tokenizer: " + "x" * 10_000 + "\n",
    "monitor.yaml": "monitor: ppx\n",
    "a.ini": "lr = 0.1\n",
}


def _fifo(ws: Path) -> None:
    os.mkfifo(ws / "fifo.yaml")


def _huge(ws: Path) -> None:  # in the case's copy alone: 1.2 MB
    (ws / "huge.yaml").write_text("# padding\n" * 120_000, encoding="utf-8")


CASES: list[Case] = [
    # config files: bounded before they are built
    Case(
        "options-config-alias-bomb",
        "YAML alias bomb (billion laughs) as --config",
        f"{LM_TRAIN} --config {{ws}}/bomb.yaml",
        "<tmp>/bomb.yaml: its aliases expand to 1,234,567,902 values; expected at most 100,000",
        file="bomb.yaml",
    ),
    Case(
        "options-config-digits-yaml",
        "a 5,000-digit number (YAML config)",
        f"{LM_TRAIN} --config {{ws}}/digits.yaml",
        "<tmp>/digits.yaml:1:14: a number of 5,000 digits; expected at most 100",
        file="digits.yaml",
        line=1,
    ),
    Case(
        "options-config-digits-toml",
        "a 5,000-digit number (TOML config)",
        f"{LM_TRAIN} --config {{ws}}/digits.toml",
        "<tmp>/digits.toml:1:15: a number of 5,000 digits; expected at most 100",
        file="digits.toml",
        line=1,
    ),
    Case(
        "options-config-digits-json",
        "a 5,000-digit number (JSON config)",
        f"{LM_TRAIN} --config {{ws}}/digits.json",
        "<tmp>/digits.json:1:17: a number of 5,000 digits; expected at most 100",
        file="digits.json",
        line=1,
    ),
    Case(
        "options-config-huge",
        "config file over 1 MiB",
        f"{LM_TRAIN} --config {{ws}}/huge.yaml",
        "<tmp>/huge.yaml: expected at most 1,048,576 bytes, got more",
        file="huge.yaml",
        setup=_huge,
    ),
    Case(
        "options-config-fifo",
        "a FIFO as --config",
        f"{LM_TRAIN} --config {{ws}}/fifo.yaml",
        "<tmp>/fifo.yaml: expected a regular file, got a special file",
        file="fifo.yaml",
        setup=_fifo,
    ),
    Case(
        "options-config-suffix",
        "config file of another kind (.ini)",
        f"{LM_TRAIN} --config {{ws}}/a.ini",
        "<tmp>/a.ini: expected a .yaml, .yml, .toml or .json file, got '.ini'",
        file="a.ini",
    ),
    # config files: one key, once
    Case(
        "options-config-twice-yaml",
        "a key given twice (YAML)",
        f"{LM_TRAIN} --config {{ws}}/twice.yaml",
        "<tmp>/twice.yaml:3:1: 'lr' is given twice (lines 1 and 3)",
        file="twice.yaml",
        line=3,
    ),
    Case(
        "options-config-twice-json",
        "a key given twice (JSON)",
        f"{LM_TRAIN} --config {{ws}}/twice.json",
        "<tmp>/twice.json: 'lr' is given twice in one object",
        file="twice.json",
    ),
    Case(
        "options-config-twice-toml",
        "a key given twice (TOML)",
        f"{LM_TRAIN} --config {{ws}}/twice.toml",
        "<tmp>/twice.toml:2:1: 'lr' is given twice (lines 1 and 2)",
        file="twice.toml",
        line=2,
    ),
    Case(
        "options-config-spellings",
        "hidden_size and hidden-size in one file",
        f"{LM_TRAIN} --config {{ws}}/spellings.yaml",
        "<tmp>/spellings.yaml: 'hidden_size' and 'hidden-size' set the same option; give it once",
        file="spellings.yaml",
    ),
    Case(
        "options-config-sections",
        "lr at the top level and in a section",
        f"{LM_TRAIN} --config {{ws}}/sections.yaml",
        "<tmp>/sections.yaml: 'lr' and 'optim.lr' set the same option; give it once",
        file="sections.yaml",
    ),
    # values: finite, shown short
    Case(
        "options-config-lr-inf",
        "lr: .inf (YAML config)",
        f"{LM_TRAIN} --config {{ws}}/lr-inf.yaml",
        "<tmp>/lr-inf.yaml: lr: expected a number > 0, got inf",
        file="lr-inf.yaml",
    ),
    Case(
        "options-config-lr-inf-toml",
        "lr = inf (TOML config)",
        f"{LM_TRAIN} --config {{ws}}/lr-inf.toml",
        "<tmp>/lr-inf.toml: lr: expected a number > 0, got inf",
        file="lr-inf.toml",
    ),
    Case(
        "options-lr-inf-flag",
        "--lr inf",
        f"{LM_TRAIN} --lr inf",
        "argument --lr: expected a number > 0, got 'inf'",
        usage=True,
        option="--lr",
    ),
    Case(
        "options-ema-one",
        "--ema 1 (a decay of 1 never moves the average)",
        f"{LM_TRAIN} --ema 1",
        "argument --ema: expected a decay in [0, 1), got '1'",
        usage=True,
        option="--ema",
    ),
    Case(
        "options-config-ema",
        "ema: 1.5 (config)",
        f"{LM_TRAIN} --config {{ws}}/ema.yaml",
        "<tmp>/ema.yaml: training.ema: expected a decay in [0, 1), got 1.5",
        file="ema.yaml",
    ),
    Case(
        "options-config-long-value",
        "a 10,000-character value (config): shown cut short",
        f"{LM_TRAIN} --config {{ws}}/long-value.yaml",
        "tokenizer: expected one of char, word, bpe, unigram, got '" + "x" * 38 + "…",
        file="long-value.yaml",
    ),
    # the command line: one line, a hint, checked before training
    Case(
        "options-unknown-flag",
        "a misspelt flag",
        f"{LM_TRAIN} --hiden-size 8",
        "unrecognized arguments: --hiden-size 8 (did you mean --hidden-size?)",
        usage=True,
    ),
    Case(
        "options-monitor-flag",
        "--monitor ppx (no such validation metric)",
        f"{LM_TRAIN} --monitor ppx",
        "argument --monitor: invalid choice: 'ppx' (choose from 'loss', 'ppl', 'accuracy')",
        usage=True,
        option="--monitor",
    ),
    Case(
        "options-monitor-config",
        "monitor: ppx (config)",
        f"{LM_TRAIN} --config {{ws}}/monitor.yaml",
        "<tmp>/monitor.yaml: monitor: expected one of loss, ppl, accuracy, got 'ppx'",
        file="monitor.yaml",
    ),
    Case(
        "options-monitor-seq2seq",
        "seq2seq --monitor accuracy",
        "seq2seq train --data {ws}/pairs.tsv --out {ws}/new --monitor accuracy",
        "argument --monitor: invalid choice: 'accuracy' (choose from 'loss', 'ppl', 'bleu', "
        "'chrf', 'exact')",
        usage=True,
        option="--monitor",
    ),
    Case(
        "options-monitor-forecast",
        "forecast --monitor ppl",
        "forecast train --csv {ws}/sales.csv --horizon 3 --out {ws}/new --monitor ppl",
        "argument --monitor: invalid choice: 'ppl' (choose from 'loss', 'mase', 'mae')",
        usage=True,
        option="--monitor",
    ),
    Case(
        "options-season-adjust",
        "forecast --season-adjust sometimes",
        "forecast train --csv {ws}/sales.csv --horizon 3 --out {ws}/new --season-adjust sometimes",
        "argument --season-adjust: expected yes, no or both, got 'sometimes'",
        usage=True,
        option="--season-adjust",
    ),
    Case(
        "options-experiment-max-time",
        "experiment --max-time 0",
        "experiment adding --max-time 0 --out {ws}/new",
        "argument --max-time/--minutes: expected a number > 0, got '0'",
        usage=True,
        option="--max-time",
    ),
    # replaying a run: --config RUN
    Case(
        "options-config-other-task",
        "a seq2seq run's config.json given to lm train",
        f"{LM_TRAIN} --config {{ws}}/s2s/best/config.json",
        "<tmp>/s2s/best/config.json: expected the config of a run of task lm, got task 'seq2seq'",
        file="s2s/best/config.json",
    ),
    Case(
        "options-config-folder",
        "a folder that is no run as --config",
        f"{LM_TRAIN} --config {{ws}}/previous",
        "<tmp>/previous: expected a checkpoint or a run folder (with best/ or last/)",
        file="previous",
    ),
    # serve and sampling (issue 23, section 3)
    Case(
        "serve-header-timeout",
        "--header-timeout 0",
        "serve {ws}/lm --header-timeout 0 --port 0",
        "argument --header-timeout: expected seconds > 0, at most 86400, got '0'",
        usage=True,
        option="--header-timeout",
    ),
    Case(
        "serve-api-key-empty",
        "an empty --api-key",
        "serve {ws}/lm --api-key '' --port 0",
        "--api-key: expected visible ASCII characters without spaces",
        option="--api-key",
    ),
    Case(
        "lm-generate-seed-huge",
        "--seed past 2**64",
        "lm generate {ws}/lm --seed 99999999999999999999999",
        "--seed: expected an integer from -2**63 to 2**64 - 1, got 99999999999999999999999",
        option="--seed",
    ),
]


def prepare(ws: Path) -> None:
    """Adds what these cases need to the sweep's workspace (after its tiny runs are trained)."""
    for name, text in CONFIGS.items():
        (ws / name).write_text(text, encoding="utf-8")
