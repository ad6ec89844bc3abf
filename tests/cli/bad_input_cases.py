"""The bad-input sweep's cases, and how to run one.

Every command fed bad input: each case is a command line, run in a copy of one workspace (input
files, a tiny trained run per task, a "previous run" folder and a previous report), and what its
one-line message must name. ``tests/cli/test_bad_input_sweep.py`` runs them and checks exit code,
message and workspace; ``scripts/bad_input_page.py`` writes them all, with the line each prints,
to ``docs/bad-input.md``.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import math
import os
import shlex
import shutil
from pathlib import Path

import bad_input_caption
import bad_input_forecast_layout
import bad_input_loading
import bad_input_options
import bad_input_runs
import bad_input_speech
from bad_input_case import Case

from lstmkit.cli.main import main

BASE_CASES = [
    # lm train: data
    Case(
        "lm-train-missing",
        "missing file",
        "lm train --data {ws}/missing.txt --out {ws}/new",
        "--data: no such file or folder: <tmp>/missing.txt",
        option="--data",
        file="missing.txt",
    ),
    Case(
        "lm-train-empty",
        "empty file",
        "lm train --data {ws}/empty.txt --out {ws}/new",
        "holds no text; expected some words",
        option="--data",
        file="empty.txt",
    ),
    Case(
        "lm-train-binary",
        "binary file",
        "lm train --data {ws}/binary.txt --out {ws}/new",
        "<tmp>/binary.txt:1:4: binary file (NUL byte at offset 3)",
        file="binary.txt",
        line=1,
    ),
    Case(
        "lm-train-latin1",
        "non-UTF-8 file",
        "lm train --data {ws}/latin1.txt --out {ws}/new",
        "<tmp>/latin1.txt:1:4: not UTF-8 (byte 0xe9)",
        file="latin1.txt",
        line=1,
    ),
    Case(
        "lm-train-gzip",
        "corrupt .gz file",
        "lm train --data {ws}/broken.gz --out {ws}/new",
        "<tmp>/broken.gz: not a valid gzip file",
        file="broken.gz",
    ),
    Case(
        "lm-train-no-data",
        "no data given",
        "lm train --out {ws}/new",
        "--data: expected a file, a folder or a built-in corpus",
        option="--data",
    ),
    Case(
        "lm-train-both",
        "--data and --train",
        "lm train --data {ws}/text.txt --train {ws}/text.txt --out {ws}/new",
        "--data and --train: expected one of them, got both",
        option="--data",
    ),
    # lm train: output folder
    Case(
        "lm-train-out-run",
        "--out holds another run",
        "lm train --data {ws}/text.txt --out {ws}/lm",
        "--out <tmp>/lm: is not empty; choose a new folder or pass --overwrite",
        option="--out",
        file="lm",
    ),
    Case(
        "lm-train-out-checkpoint",
        "--out is another run's checkpoint",
        "lm train --data {ws}/text.txt --out {ws}/lm/best",
        "--out <tmp>/lm/best: holds another run (config.json)",
        option="--out",
        file="lm/best",
    ),
    Case(
        "lm-train-out-previous",
        "--out holds other files",
        "lm train --data {ws}/text.txt --out {ws}/previous",
        "--out <tmp>/previous: is not empty",
        option="--out",
        file="previous",
    ),
    Case(
        "lm-train-out-file",
        "--out is a file",
        "lm train --data {ws}/text.txt --out {ws}/text.txt",
        "--out <tmp>/text.txt: expected a folder, got a file",
        option="--out",
        file="text.txt",
    ),
    # lm train: absurd options
    Case(
        "lm-train-hidden-negative",
        "negative hidden_size (config)",
        "lm train --data {ws}/text.txt --out {ws}/new --config {ws}/hidden-negative.yaml",
        "hidden_size: expected a positive integer, got -4",
        file="hidden-negative.yaml",
    ),
    Case(
        "lm-train-hidden-flag",
        "negative --hidden-size",
        "lm train --data {ws}/text.txt --out {ws}/new --hidden-size -4",
        "argument --hidden-size: expected a positive integer, got '-4'",
        usage=True,
        option="--hidden-size",
    ),
    Case(
        "lm-train-lr-zero",
        "lr 0 (config)",
        "lm train --data {ws}/text.txt --out {ws}/new --config {ws}/lr-zero.yaml",
        "lr: expected a number > 0, got 0",
        file="lr-zero.yaml",
    ),
    Case(
        "lm-train-lr-negative",
        "lr < 0 (TOML config)",
        "lm train --data {ws}/text.txt --out {ws}/new --config {ws}/lr-negative.toml",
        "lr: expected a number > 0, got -0.5",
        file="lr-negative.toml",
    ),
    Case(
        "lm-train-lr-flag",
        "--lr 0",
        "lm train --data {ws}/text.txt --out {ws}/new --lr 0",
        "argument --lr: expected a number > 0, got '0'",
        usage=True,
        option="--lr",
    ),
    Case(
        "lm-train-precision-flag",
        "--precision fp16",
        "lm train --data {ws}/text.txt --out {ws}/new --precision fp16",
        "argument --precision: invalid choice: 'fp16' (choose from 'fp32', 'bf16', 'auto')",
        usage=True,
        option="--precision",
    ),
    Case(
        "lm-train-precision-config",
        "precision fp16 (config)",
        "lm train --data {ws}/text.txt --out {ws}/new --config {ws}/precision-fp16.yaml",
        "precision: expected one of fp32, bf16, auto, got 'fp16'",
        file="precision-fp16.yaml",
    ),
    Case(
        "lm-train-lr-nan",
        "lr NaN (config)",
        "lm train --data {ws}/text.txt --out {ws}/new --config {ws}/lr-nan.yaml",
        "lr: expected a number > 0, got nan",
        file="lr-nan.yaml",
    ),
    Case(
        "lm-train-dropout",
        "dropout 1.5 (config)",
        "lm train --data {ws}/text.txt --out {ws}/new --config {ws}/dropout.yaml",
        "dropout: expected a probability in [0, 1), got 1.5",
        file="dropout.yaml",
    ),
    Case(
        "lm-train-batch-zero",
        "batch_size 0 (config)",
        "lm train --data {ws}/text.txt --out {ws}/new --config {ws}/batch-zero.yaml",
        "batch_size: expected a positive integer, got 0",
        file="batch-zero.yaml",
    ),
    # lm train: config files
    Case(
        "lm-train-config-missing",
        "missing config file",
        "lm train --data {ws}/text.txt --out {ws}/new --config {ws}/missing.yaml",
        "<tmp>/missing.yaml: no such file",
        file="missing.yaml",
    ),
    Case(
        "lm-train-config-syntax",
        "config with a YAML syntax error",
        "lm train --data {ws}/text.txt --out {ws}/new --config {ws}/syntax.yaml",
        "<tmp>/syntax.yaml: invalid YAML",
        file="syntax.yaml",
    ),
    Case(
        "lm-train-config-nul",
        "config with a NUL byte",
        "lm train --data {ws}/text.txt --out {ws}/new --config {ws}/nul.yaml",
        "unacceptable character #x0000: special characters are not allowed (at line 2",
        file="nul.yaml",
    ),
    Case(
        "lm-train-config-unknown",
        "config with a misspelt key",
        "lm train --data {ws}/text.txt --out {ws}/new --config {ws}/unknown.yaml",
        "unknown option 'hiden_size' (did you mean 'hidden_size'?)",
        file="unknown.yaml",
    ),
    Case(
        "lm-train-config-list",
        "config that is a list",
        "lm train --data {ws}/text.txt --out {ws}/new --config {ws}/list.yaml",
        "expected a mapping of settings at the top level, got list",
        file="list.yaml",
    ),
    Case(
        "lm-train-config-json",
        "JSON config that is a list",
        "lm train --data {ws}/text.txt --out {ws}/new --config {ws}/c.json",
        "c.json: expected a mapping of settings at the top level, got list",
        file="c.json",
    ),
    # lm: checkpoints
    Case(
        "lm-train-resume-task",
        "--resume a forecaster's run",
        "lm train --resume {ws}/fc",
        "checkpoint of task 'forecast', expected 'lm'",
        file="fc/last/config.json",
    ),
    Case(
        "lm-train-resume-model",
        "--resume with a model option",
        "lm train --resume {ws}/lm --hidden-size 8",
        "--hidden-size: fixed by the run being resumed",
        option="--hidden-size",
    ),
    Case(
        "lm-eval-task",
        "checkpoint of the wrong task",
        "lm eval {ws}/fc --data {ws}/text.txt",
        "checkpoint of task 'forecast', expected 'lm'",
        file="fc/best/config.json",
    ),
    Case(
        "lm-eval-missing-run",
        "missing run folder",
        "lm eval {ws}/missing-run --data {ws}/text.txt",
        "<tmp>/missing-run: no such checkpoint directory",
        file="missing-run",
    ),
    Case(
        "lm-eval-not-run",
        "folder that is not a run",
        "lm eval {ws}/previous --data {ws}/text.txt",
        "<tmp>/previous: expected a checkpoint or a run folder",
        file="previous",
    ),
    Case(
        "lm-eval-binary",
        "binary eval text",
        "lm eval {ws}/lm --data {ws}/binary.txt",
        "binary file (NUL byte at offset 3)",
        file="binary.txt",
        line=1,
    ),
    Case(
        "lm-predict-task",
        "checkpoint of the wrong task",
        "lm predict {ws}/s2s 'the cat'",
        "checkpoint of task 'seq2seq', expected 'lm'",
        file="s2s/best/config.json",
    ),
    Case(
        "lm-generate-temperature",
        "temperature 0 (config)",
        "lm generate {ws}/lm --config {ws}/temperature.yaml",
        "temperature: expected a number > 0, got 0",
        file="temperature.yaml",
    ),
    Case(
        "lm-generate-top-p",
        "--top-p 1.5",
        "lm generate {ws}/lm --top-p 1.5",
        "argument --top-p: expected a probability in (0, 1], got '1.5'",
        usage=True,
        option="--top-p",
    ),
    Case(
        "lm-predict-not-utf8",
        "non-UTF-8 bytes in TEXT (BPE model)",
        "lm predict {ws}/bpe 'the caf\udce9'",  # how Python decodes the argv byte 0xe9
        "text: expected Unicode text, got a lone surrogate U+DCE9 (bytes that are not UTF-8?)",
    ),
    # seq2seq
    Case(
        "s2s-train-one-column",
        "TSV with one column",
        "seq2seq train --data {ws}/one-column.tsv --out {ws}/new",
        "<tmp>/one-column.tsv:1:12: expected at least 2 tab-separated columns",
        file="one-column.tsv",
        line=1,
    ),
    Case(
        "s2s-train-blank-target",
        "TSV with a blank target",
        "seq2seq train --data {ws}/blank-target.tsv --out {ws}/new",
        "<tmp>/blank-target.tsv:1:7: expected a target sentence in column 2",
        file="blank-target.tsv",
        line=1,
    ),
    Case(
        "s2s-train-mismatched",
        "parallel files of 3 and 2 lines",
        "seq2seq train --src {ws}/a.en --tgt {ws}/a.fr --out {ws}/new",
        "--src <tmp>/a.en has 3 lines, --tgt <tmp>/a.fr has 2; expected the same number",
        option="--src",
        file="a.en",
    ),
    Case(
        "s2s-train-src-only",
        "--src without --tgt",
        "seq2seq train --src {ws}/a.en --out {ws}/new",
        "--src and --tgt: expected both, got one",
        option="--src",
    ),
    Case(
        "s2s-train-latin1",
        "non-UTF-8 TSV",
        "seq2seq train --data {ws}/latin1.txt --out {ws}/new",
        "not UTF-8 (byte 0xe9)",
        file="latin1.txt",
        line=1,
    ),
    Case(
        "s2s-train-hidden-negative",
        "negative hidden_size (config)",
        "seq2seq train --data {ws}/pairs.tsv --out {ws}/new --config {ws}/hidden-negative.yaml",
        "hidden_size: expected a positive integer, got -4",
        file="hidden-negative.yaml",
    ),
    Case(
        "s2s-train-out-run",
        "--out holds another run",
        "seq2seq train --data {ws}/pairs.tsv --out {ws}/s2s",
        "--out <tmp>/s2s: is not empty",
        option="--out",
        file="s2s",
    ),
    Case(
        "s2s-eval-task",
        "checkpoint of the wrong task",
        "seq2seq eval {ws}/lm --data {ws}/pairs.tsv",
        "checkpoint of task 'lm', expected 'seq2seq'",
        file="lm/best/config.json",
    ),
    Case(
        "s2s-eval-mismatched",
        "--src and --ref of 3 and 2 lines",
        "seq2seq eval {ws}/s2s --src {ws}/a.en --ref {ws}/a.fr",
        "--src <tmp>/a.en has 3 lines, --ref <tmp>/a.fr has 2",
        option="--src",
        file="a.en",
    ),
    Case(
        "s2s-eval-empty",
        "empty TSV",
        "seq2seq eval {ws}/s2s --data {ws}/empty.txt",
        "holds no text",
        option="--data",
        file="empty.txt",
    ),
    Case(
        "s2s-translate-task",
        "checkpoint of the wrong task",
        "seq2seq translate {ws}/lm {ws}/a.en",
        "checkpoint of task 'lm', expected 'seq2seq'",
        file="lm/best/config.json",
    ),
    Case(
        "s2s-translate-binary",
        "binary input file",
        "seq2seq translate {ws}/s2s {ws}/binary.txt",
        "binary file (NUL byte at offset 3)",
        file="binary.txt",
        line=1,
    ),
    Case(
        "s2s-translate-missing",
        "missing input file",
        "seq2seq translate {ws}/s2s {ws}/missing.txt",
        "no such file or folder: <tmp>/missing.txt",
        file="missing.txt",
    ),
    Case(
        "s2s-translate-beam",
        "beam_size 0 (config)",
        "seq2seq translate {ws}/s2s {ws}/a.en --method beam --config {ws}/beam.yaml",
        "beam_size: expected a positive integer, got 0",
        file="beam.yaml",
    ),
    # forecast train
    Case(
        "fc-train-nan",
        "NaN in the target",
        "forecast train --csv {ws}/nan.csv --horizon 3 --out {ws}/new",
        "1 missing values in column 'sales' (first at <tmp>/nan.csv:3)",
        file="nan.csv",
        line=3,
    ),
    Case(
        "fc-train-not-number",
        "a word in the target",
        "forecast train --csv {ws}/word.csv --horizon 3 --out {ws}/new",
        "<tmp>/word.csv:3: column 'sales': expected a number, got 'abc'",
        file="word.csv",
        line=3,
    ),
    Case(
        "fc-train-duplicate",
        "duplicate timestamp",
        "forecast train --csv {ws}/duplicate.csv --horizon 3 --out {ws}/new",
        "duplicate timestamp 2010-01-01",
        file="duplicate.csv",
        line=2,
    ),
    Case(
        "fc-train-two-targets",
        "two numeric columns, no --target",
        "forecast train --csv {ws}/two-numbers.csv --horizon 3 --out {ws}/new",
        "target: expected one numeric column to guess from",
        file="two-numbers.csv",
    ),
    Case(
        "fc-train-no-target",
        "--target of a missing column",
        "forecast train --csv {ws}/sales.csv --target nope --horizon 3 --out {ws}/new",
        "target: no column 'nope'; expected one of 'month', 'sales'",
        file="sales.csv",
    ),
    Case(
        "fc-train-no-time",
        "--time of a missing column",
        "forecast train --csv {ws}/sales.csv --time nope --horizon 3 --out {ws}/new",
        "time: no column 'nope'",
        file="sales.csv",
    ),
    Case(
        "fc-train-empty",
        "empty CSV",
        "forecast train --csv {ws}/empty.txt --horizon 3 --out {ws}/new",
        "<tmp>/empty.txt: empty file; expected a CSV file with a header row",
        file="empty.txt",
    ),
    Case(
        "fc-train-binary",
        "binary CSV",
        "forecast train --csv {ws}/binary.txt --horizon 3 --out {ws}/new",
        "<tmp>/binary.txt: binary file (NUL byte); expected CSV text",
        file="binary.txt",
    ),
    Case(
        "fc-train-latin1",
        "non-UTF-8 CSV",
        "forecast train --csv {ws}/latin1.txt --horizon 3 --out {ws}/new",
        "<tmp>/latin1.txt:1:4: not UTF-8 (byte 0xe9); expected UTF-8 text",
        file="latin1.txt",
        line=1,
    ),
    Case(
        "fc-train-no-horizon",
        "no horizon",
        "forecast train --csv {ws}/sales.csv --out {ws}/new",
        "--horizon: expected the steps to forecast, a positive integer, got none",
        option="--horizon",
    ),
    Case(
        "fc-train-horizon-zero",
        "horizon 0 (config)",
        "forecast train --csv {ws}/sales.csv --out {ws}/new --config {ws}/horizon-zero.yaml",
        "horizon: expected a positive integer, got 0",
        file="horizon-zero.yaml",
    ),
    Case(
        "fc-train-horizon-flag",
        "--horizon 0",
        "forecast train --csv {ws}/sales.csv --horizon 0 --out {ws}/new",
        "argument --horizon: expected a positive integer, got '0'",
        usage=True,
        option="--horizon",
    ),
    Case(
        "fc-train-lookback",
        "lookback -1 (config)",
        "forecast train --csv {ws}/sales.csv --horizon 3 --config {ws}/lookback.yaml --out {ws}/n",
        "lookback: expected a positive integer, got -1",
        file="lookback.yaml",
    ),
    Case(
        "fc-train-freq",
        "unknown --freq",
        "forecast train --csv {ws}/sales.csv --horizon 3 --freq XYZ --out {ws}/new",
        "freq: expected a pandas frequency",
        option="--freq",
    ),
    Case(
        "fc-train-too-short",
        "horizon longer than the series",
        "forecast train --csv {ws}/sales.csv --horizon 100 --out {ws}/new",
        "series 'sales': expected at least",
    ),
    Case(
        "fc-train-out-run",
        "--out holds another run",
        "forecast train --csv {ws}/sales.csv --horizon 3 --out {ws}/fc",
        "--out <tmp>/fc: is not empty",
        option="--out",
        file="fc",
    ),
    # forecast predict / backtest
    Case(
        "fc-predict-task",
        "checkpoint of the wrong task",
        "forecast predict {ws}/lm --csv {ws}/sales.csv",
        "checkpoint of task 'lm', expected 'forecast'",
        file="lm/best/config.json",
    ),
    Case(
        "fc-predict-horizon",
        "horizon beyond the trained one",
        "forecast predict {ws}/fc --csv {ws}/sales.csv --horizon 50",
        "--horizon: expected at most the trained horizon 3, got 50",
        option="--horizon",
    ),
    Case(
        "fc-predict-horizon-zero",
        "horizon 0 (config)",
        "forecast predict {ws}/fc --csv {ws}/sales.csv --config {ws}/horizon-zero.yaml",
        "horizon: expected a positive integer, got 0",
        file="horizon-zero.yaml",
    ),
    Case(
        "fc-predict-output-exists",
        "--output file exists",
        "forecast predict {ws}/fc --csv {ws}/sales.csv --output {ws}/report.html",
        "--output <tmp>/report.html: exists; choose another file or pass --overwrite",
        option="--output",
        file="report.html",
    ),
    Case(
        "fc-predict-nan",
        "NaN in the history",
        "forecast predict {ws}/fc --csv {ws}/nan.csv",
        "1 missing values in column 'sales'",
        file="nan.csv",
        line=3,
    ),
    Case(
        "fc-predict-columns",
        "history without the trained column",
        "forecast predict {ws}/fc --csv {ws}/two-numbers.csv",
        "target: no column 'sales'",
        file="two-numbers.csv",
    ),
    Case(
        "fc-backtest-nan",
        "NaN in the target",
        "forecast backtest --csv {ws}/nan.csv --horizon 3",
        "1 missing values in column 'sales'",
        file="nan.csv",
        line=3,
    ),
    Case(
        "fc-backtest-lr",
        "lr 0 (config)",
        "forecast backtest --csv {ws}/sales.csv --horizon 3 --config {ws}/lr-zero.yaml",
        "lr: expected a number > 0, got 0",
        file="lr-zero.yaml",
    ),
    Case(
        "fc-backtest-missing",
        "missing CSV",
        "forecast backtest --csv {ws}/missing.csv --horizon 3",
        "<tmp>/missing.csv: no such file",
        file="missing.csv",
    ),
    Case(
        "fc-backtest-folds",
        "more folds than the series holds",
        "forecast backtest --csv {ws}/sales.csv --horizon 3 --folds 100",
        "series 'sales': expected at least",
    ),
    # inspect
    Case(
        "inspect-out-exists",
        "--out report exists",
        "inspect {ws}/lm --text 'the cat' --out {ws}/report.html",
        "--out <tmp>/report.html: already exists; choose a new name or pass --overwrite",
        option="--out",
        file="report.html",
    ),
    Case(
        "inspect-text-forecaster",
        "text for a forecaster",
        "inspect {ws}/fc --text 'the cat' --out {ws}/new.html",
        "holds a forecaster; give its series' history with --csv FILE",
        option="--text",
        file="fc",
    ),
    Case(
        "inspect-csv-seq2seq",
        "CSV for a seq2seq model",
        "inspect {ws}/s2s --csv {ws}/sales.csv --out {ws}/new.html",
        "holds a seq2seq model; give text with --text or --text-file",
        option="--csv",
        file="s2s",
    ),
    Case(
        "inspect-binary",
        "binary --text-file",
        "inspect {ws}/lm --text-file {ws}/binary.txt --out {ws}/new.html",
        "binary file (NUL byte at offset 3)",
        file="binary.txt",
        line=1,
    ),
    Case(
        "inspect-latin1",
        "non-UTF-8 --text-file",
        "inspect {ws}/lm --text-file {ws}/latin1.txt --out {ws}/new.html",
        "not UTF-8 (byte 0xe9)",
        file="latin1.txt",
        line=1,
    ),
    Case(
        "inspect-no-input",
        "no input",
        "inspect {ws}/lm --out {ws}/new.html",
        "--text, --text-file, --csv, --audio or --image: expected one of them, got none",
        option="--text",
    ),
    Case(
        "inspect-missing-run",
        "missing run folder",
        "inspect {ws}/missing-run --text the --out {ws}/new.html",
        "no such checkpoint directory",
        file="missing-run",
    ),
    Case(
        "inspect-max-tokens",
        "--max-tokens 0",
        "inspect {ws}/lm --text the --max-tokens 0 --out {ws}/new.html",
        "argument --max-tokens: expected a positive integer, got '0'",
        usage=True,
        option="--max-tokens",
    ),
    # export
    Case(
        "export-missing-run",
        "missing run folder",
        "export {ws}/missing-run --out {ws}/new",
        "<tmp>/missing-run: no such checkpoint directory",
        file="missing-run",
    ),
    Case(
        "export-existing-out",
        "--out an existing folder",
        "export {ws}/lm --out {ws}/previous",
        "--out <tmp>/previous: already exists and is not empty",
        option="--out",
        file="previous",
    ),
    Case(
        "export-format",
        "unknown --format",
        "export {ws}/lm --format tflite --out {ws}/new",
        "--format: expected one of onnx, got 'tflite'",
        option="--format",
    ),
    Case(
        "export-opset",
        "--opset out of range",
        "export {ws}/lm --out {ws}/new --opset 3",
        "--opset: expected an integer from 14 to 20, got 3",
        option="--opset",
    ),
    Case(
        "export-no-out",
        "no --out",
        "export {ws}/lm",
        "--out: expected the folder to write the export to, got none",
        option="--out",
    ),
    # serve
    Case(
        "serve-missing-run",
        "missing run folder",
        "serve {ws}/missing-run --port 0",
        "<tmp>/missing-run: no such checkpoint directory",
        file="missing-run",
    ),
    Case(
        "serve-file",
        "a file for the model folder",
        "serve {ws}/text.txt --port 0",
        "<tmp>/text.txt: expected a checkpoint or a run folder, got a file",
        file="text.txt",
    ),
    Case(
        "serve-port",
        "--port 70000",
        "serve {ws}/lm --port 70000",
        "argument --port: expected a port 0-65535, got '70000'",
        usage=True,
        option="--port",
    ),
    Case(
        "serve-max-batch",
        "--max-batch 0",
        "serve {ws}/lm --max-batch 0 --port 0",
        "argument --max-batch: expected a positive integer, got '0'",
        usage=True,
        option="--max-batch",
    ),
    # experiment
    Case(
        "experiment-length",
        "--length too short",
        "experiment adding --length 1 --out {ws}/new",
        "--length: expected an integer >= 10, got 1",
        option="--length",
    ),
    Case(
        "experiment-cell",
        "unknown --cell",
        "experiment adding --cell lstm tcn --out {ws}/new",
        "--cell: expected any of lstm, gru, rnn, got 'tcn'",
        option="--cell",
    ),
    Case(
        "experiment-problem",
        "unknown problem",
        "experiment sorting --out {ws}/new",
        "argument problem: invalid choice: 'sorting'",
        usage=True,
    ),
    Case(
        "experiment-existing-out",
        "--out a previous run",
        "experiment adding --out {ws}/previous",
        "--out <tmp>/previous: is not empty",
        option="--out",
        file="previous",
    ),
    Case(
        "experiment-lr",
        "--lr 0",
        "experiment adding --lr 0 --out {ws}/new",
        "argument --lr: expected a number > 0, got '0'",
        usage=True,
        option="--lr",
    ),
    # info
    Case(
        "info-unknown",
        "an option info does not take",
        "info --config {ws}/c.json",
        "unrecognized arguments: --config <tmp>/c.json",
        usage=True,
        file="c.json",
    ),
]
# Issue 23's sections: each module holds its cases and a ``prepare(ws)`` that adds what its
# cases need to the workspace (crafted run folders, links, config files).
SECTIONS = (
    bad_input_loading,
    bad_input_runs,
    bad_input_options,
    bad_input_forecast_layout,
    bad_input_speech,
    bad_input_caption,
)
CASES = BASE_CASES + [case for section in SECTIONS for case in section.CASES]


TEXT = "".join(f"the cat sat on the mat number {i % 7}\n" for i in range(60))
MONTHS = [f"{2010 + k // 12}-{k % 12 + 1:02d}-01" for k in range(48)]
FILES = {
    "text.txt": TEXT,
    "empty.txt": "",
    "binary.txt": b"abc\x00\x01\x02def\n",
    "latin1.txt": "café au lait\n".encode("latin-1"),
    "broken.gz": b"not gzip at all",
    "pairs.tsv": "".join(f"{x} {y}\t{y} {x}\n" for x in "abc" for y in "abc") * 3,
    "one-column.tsv": "hello world\nbye\n",
    "blank-target.tsv": "hello\t \n",
    "a.en": "one\ntwo\nthree\n",
    "a.fr": "un\ndeux\n",
    "sales.csv": "month,sales\n"
    + "".join(f"{m},{10 + math.sin(i / 2):.3f}\n" for i, m in enumerate(MONTHS)),
    "nan.csv": "month,sales\n2010-01-01,1\n2010-02-01,nan\n2010-03-01,3\n2010-04-01,4\n",
    "word.csv": "month,sales\n2010-01-01,1\n2010-02-01,abc\n2010-03-01,3\n",
    "duplicate.csv": "month,sales\n2010-01-01,1\n2010-01-01,2\n2010-03-01,3\n",
    "two-numbers.csv": "month,a,b\n2010-01-01,1,2\n2010-02-01,2,3\n",
    "hidden-negative.yaml": "hidden_size: -4\n",
    "precision-fp16.yaml": "precision: fp16\n",
    "lr-zero.yaml": "lr: 0\n",
    "lr-negative.toml": "lr = -0.5\n",
    "lr-nan.yaml": "lr: .nan\n",
    "dropout.yaml": "dropout: 1.5\n",
    "batch-zero.yaml": "batch_size: 0\n",
    "syntax.yaml": "hidden_size: [1\n",
    "nul.yaml": "lr: 0.1\nepochs: \x00\n",
    "unknown.yaml": "hiden_size: 8\n",
    "list.yaml": "- a\n- b\n",
    "c.json": "[]",
    "temperature.yaml": "temperature: 0\n",
    "beam.yaml": "beam_size: 0\n",
    "horizon-zero.yaml": "horizon: 0\n",
    "lookback.yaml": "lookback: -1\n",
    "report.html": "<p>the previous report</p>",
    "previous/notes.txt": "a previous run's notes",
}
TINY = "--hidden-size 4 --num-layers 1 --epochs 1 --no-progress"
RUNS = [
    f"lm train --data {{ws}}/text.txt --out {{ws}}/lm --tokenizer char --embedding-size 4 "
    f"--batch-size 4 --bptt 8 {TINY}",
    f"lm train --data {{ws}}/text.txt --out {{ws}}/bpe --tokenizer bpe --vocab-size 30 "
    f"--embedding-size 4 --batch-size 4 --bptt 8 {TINY}",
    f"seq2seq train --data {{ws}}/pairs.tsv --out {{ws}}/s2s --embedding-size 4 {TINY}",
    f"forecast train --csv {{ws}}/sales.csv --out {{ws}}/fc --horizon 3 --batches-per-epoch 1 "
    f"--baselines naive {TINY}",
]


def make_workspace(ws: Path) -> None:
    """The input files and one tiny trained run per task (lm and bpe, s2s, fc)."""
    for name, content in FILES.items():
        path = ws / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            content = content.encode()
        path.write_bytes(content)
    with gzip.open(ws / "text.txt.gz", "wt") as f:
        f.write(TEXT)
    for run in RUNS:
        code, err = run_main(run, ws)
        assert code == 0, err
    for section in SECTIONS:
        section.prepare(ws)


def run_main(args: str, ws: Path) -> tuple[int, str]:
    """``lstmkit ARGS`` run in ``ws``: the exit code and stderr, with ``ws`` written <tmp>."""
    argv = [a.format(ws=ws) for a in shlex.split(args)]
    stderr = io.StringIO()
    cwd = os.getcwd()
    os.chdir(ws)
    try:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            code = main(argv)
    finally:
        os.chdir(cwd)
    return code, stderr.getvalue().replace(str(ws), "<tmp>")


def snapshot(folder: Path) -> dict[str, str]:
    """Every entry under ``folder``: a file's hash, "dir", a link's target, or "special" (a FIFO:
    never opened, links never followed)."""
    entries = {}
    for p in sorted(folder.rglob("*")):
        if p.is_symlink():
            entries[str(p.relative_to(folder))] = "-> " + os.readlink(p)
        elif p.is_dir():
            entries[str(p.relative_to(folder))] = "dir"
        elif p.is_file():
            entries[str(p.relative_to(folder))] = hashlib.sha256(p.read_bytes()).hexdigest()
        else:
            entries[str(p.relative_to(folder))] = "special"
    return entries


def copy_workspace(source: Path, target: Path, case: Case) -> None:
    """A fresh copy of the workspace for ``case`` (links copied as links), then its ``setup``."""
    shutil.copytree(source, target, symlinks=True)
    if case.setup is not None:
        case.setup(target)


def command(case: Case) -> str:
    """The command as its messages name it: ``lstmkit lm train``, ``lstmkit export``."""
    words = case.args.split()
    single = ("inspect", "info", "export", "serve", "experiment")  # commands without a verb
    return " ".join(["lstmkit", *words[: 1 if words[0] in single else 2]])


def error_line(case: Case, stderr: str) -> str:
    """The one error line; a ``usage`` case's (argparse's) ends by pointing to the command's
    --help, in place of the usage lines argparse prints."""
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    if case.usage:
        assert lines[0].endswith(f" (see {command(case)} --help)"), stderr
    return lines[0]
