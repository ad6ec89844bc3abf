"""Options as a person uses them: help for every option, one-line mistakes with a hint, config
files' keys given once and values finite, --print-config and replaying a run with --config."""

from __future__ import annotations

import argparse

import pytest
import yaml
from safetensors.torch import load_file

from lstmkit.checkpoint import load_checkpoint
from lstmkit.cli.main import build_parser, main
from lstmkit.cli.options import settings
from lstmkit.errors import UserError
from lstmkit.lm import LanguageModel

TEXT = "".join(f"my brother loves crepes and {w}\n" for w in ("tea", "jam", "figs") * 40)
TINY = (
    "--embedding-size 8 --hidden-size 8 --num-layers 1 --epochs 1 --no-progress --batch-size 4 "
    "--bptt 8"
).split()


def subcommands(parser: argparse.ArgumentParser):
    """Every parser under ``parser``, itself included."""
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                yield from subcommands(sub)


def test_every_option_of_every_command_has_help():
    missing = [
        f"{p.prog} {a.option_strings or a.dest}"
        for p in subcommands(build_parser())
        for a in p._actions
        if not isinstance(a, argparse._SubParsersAction)
        and (not a.help or a.help == argparse.SUPPRESS)
    ]
    assert not missing, "\n".join(missing)


def test_switches_say_what_they_do_and_their_default_reads_right():
    for p in subcommands(build_parser()):
        for a in p._actions:
            if isinstance(a, argparse.BooleanOptionalAction):
                on, off = a.option_strings
                assert a.help.endswith((f"(default: {on})", f"(default: {off})")), a.help
            elif a.nargs == 0 and a.option_strings:  # --x or --no-x: the flag does one thing
                assert "(default: True)" not in a.help, (p.prog, a.option_strings)
                assert "(default: False)" not in a.help, (p.prog, a.option_strings)
    train = {a.dest: a for a in subcommands(build_parser()) for a in a._actions}
    assert "(default:" not in train["bidirectional"].help
    assert train["calibrate"].help.endswith("(default: --calibrate)")
    assert train["shrink"].help.endswith("(default: --no-shrink)")


def run(argv, capsys) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_bad_flag_value_is_one_line_pointing_to_help(capsys):
    code, _, err = run(["lm", "train", "--lr", "0"], capsys)
    assert code == 2
    assert err == (
        "lstmkit lm train: error: argument --lr: expected a number > 0, got '0' "
        "(see lstmkit lm train --help)\n"
    )


def test_an_unknown_flag_is_told_by_its_command_with_the_closest_flag(capsys):
    code, _, err = run(["lm", "train", "--hiden-size", "8"], capsys)
    assert code == 2
    assert err == (
        "lstmkit lm train: error: unrecognized arguments: --hiden-size 8 (did you mean "
        "--hidden-size?) (see lstmkit lm train --help)\n"
    )
    code, _, err = run(["info", "--jsn"], capsys)
    assert err.startswith(
        "lstmkit info: error: unrecognized arguments: --jsn (did you mean --json?)"
    )


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "1e400"])
def test_non_finite_numbers_are_refused(capsys, value):
    code, _, err = run(["lm", "train", f"--lr={value}"], capsys)
    assert code == 2
    assert f"argument --lr: expected a number > 0, got '{value}'" in err


def parsed(argv: list[str]) -> argparse.Namespace:
    return build_parser().parse_args(argv)


def test_config_values_that_are_not_finite_are_refused(tmp_path):
    (tmp_path / "c.yaml").write_text("clip: .inf\n")
    with pytest.raises(UserError, match=r"c\.yaml: clip: expected a number >= 0, got inf"):
        settings(parsed(["lm", "train", "--config", str(tmp_path / "c.yaml")]))


def test_a_long_value_is_shown_cut_short(tmp_path):
    (tmp_path / "c.yaml").write_text("lr: " + "x" * 100_000 + "\n")
    with pytest.raises(UserError, match=r"c\.yaml") as error:
        settings(parsed(["lm", "train", "--config", str(tmp_path / "c.yaml")]))
    assert str(error.value).endswith("lr: expected a number > 0, got '" + "x" * 38 + "…")


def test_two_spellings_of_one_option_are_refused_naming_both(tmp_path):
    (tmp_path / "c.yaml").write_text("hidden_size: 8\nmodel:\n  hidden-size: 16\n")
    with pytest.raises(UserError, match="set the same option") as error:
        settings(parsed(["lm", "train", "--config", str(tmp_path / "c.yaml")]))
    assert str(error.value) == (
        f"{tmp_path}/c.yaml: 'hidden_size' and 'model.hidden-size' set the same option; "
        "give it once"
    )


def test_monitor_is_checked_against_the_task_before_anything_is_written(tmp_path, capsys):
    (tmp_path / "text.txt").write_text(TEXT)
    argv = ["lm", "train", "--data", tmp_path / "text.txt", "--out", tmp_path / "run"]
    code, _, err = run([*argv, "--monitor", "ppx"], capsys)
    assert code == 2
    assert (
        "argument --monitor: invalid choice: 'ppx' (choose from 'loss', 'ppl', 'accuracy')" in err
    )
    (tmp_path / "c.toml").write_text('monitor = "bleu"\n')
    code, _, err = run([*argv, "--config", tmp_path / "c.toml"], capsys)
    assert code == 2
    assert "c.toml: monitor: expected one of loss, ppl, accuracy, got 'bleu'" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.toml", "text.txt"]


def test_print_config_writes_yaml_of_defaults_file_and_flags_and_trains_nothing(tmp_path, capsys):
    (tmp_path / "c.yaml").write_text("model: {hidden_size: 32, num_layers: 3}\nlr: 0.01\n")
    argv = ["lm", "train", "--data", "x.txt", "--config", tmp_path / "c.yaml"]
    code, out, err = run(
        [*argv, "--num-layers", "1", "--out", tmp_path / "run", "--print-config"], capsys
    )
    assert (code, err) == (0, "")
    printed = yaml.safe_load(out)
    assert printed["model"]["hidden_size"] == 32  # the file
    assert printed["model"]["num_layers"] == 1  # the flag over the file
    assert printed["optimiser"]["lr"] == 0.01
    assert printed["batching"]["bptt"] == LanguageModel().bptt  # a default: the Python API's
    assert printed["data"]["data"] == "x.txt"
    # Where a run goes is the replay's own choice.
    assert not any("out" in section for section in printed.values())
    assert str(tmp_path / "run") not in out
    assert not (tmp_path / "run").exists()
    # What it printed reads back as --config and prints the same.
    (tmp_path / "printed.yaml").write_text(out)
    code, again, _ = run(
        ["lm", "train", "--config", tmp_path / "printed.yaml", "--print-config"], capsys
    )
    assert (code, again) == (0, out)


def test_a_runs_config_json_replays_the_run(tmp_path, capsys):
    (tmp_path / "text.txt").write_text(TEXT)
    first = ["lm", "train", "--data", tmp_path / "text.txt", "--tokenizer", "word", *TINY]
    assert run([*first, "--lr", "0.01", "--seed", "3", "--out", tmp_path / "a"], capsys)[0] == 0
    replay = ["lm", "train", "--config", tmp_path / "a" / "best" / "config.json"]
    code, out, err = run([*replay, "--print-config"], capsys)
    assert (code, err) == (0, "")
    printed = yaml.safe_load(out)
    assert printed["tokenizer"]["tokenizer"] == "word"
    assert printed["optimiser"]["lr"] == 0.01
    assert printed["training"]["seed"] == 3
    assert printed["batching"]["bptt"] == 8
    assert printed["data"]["data"] == str(tmp_path / "text.txt")
    # Trained again from it alone, the run comes out the same, weight for weight.
    assert run([*replay, "--out", tmp_path / "b"], capsys)[0] == 0
    a, b = (load_file(tmp_path / run_ / "last" / "model.safetensors") for run_ in "ab")
    assert a.keys() == b.keys()
    assert all((a[k] == b[k]).all() for k in a)
    # The run folder itself (or RUN/config.json), and the YAML it printed, are accepted too.
    assert run(["lm", "train", "--config", tmp_path / "a", "--print-config"], capsys)[1] == out
    folder_config = tmp_path / "a" / "config.json"
    assert run(["lm", "train", "--config", folder_config, "--print-config"], capsys)[1] == out
    (tmp_path / "printed.yaml").write_text(out)
    code, again, _ = run(
        ["lm", "train", "--config", tmp_path / "printed.yaml", "--print-config"], capsys
    )
    assert again == out


def test_seq2seq_takes_tokenizer_for_both_sides(tmp_path, capsys):
    pairs = "".join(f"{a} {b}\t{b} {a}\n" for a in "abc" for b in "abc") * 3
    (tmp_path / "pairs.tsv").write_text(pairs)
    argv = ["seq2seq", "train", "--data", tmp_path / "pairs.tsv", "--tokenizer", "char"]
    _, out, _ = run([*argv, "--tgt-tokenizer", "word", "--print-config"], capsys)
    tokenizers = yaml.safe_load(out)["tokenizers"]
    assert (tokenizers["src_tokenizer"], tokenizers["tgt_tokenizer"]) == ("char", "word")
    tiny = TINY[:-2]  # seq2seq has no --bptt
    code, _, err = run([*argv, *tiny, "--out", tmp_path / "run"], capsys)
    assert code == 0, err
    estimator = load_checkpoint(tmp_path / "run" / "best", task="seq2seq").config["estimator"]
    assert (estimator["src_tokenizer"], estimator["tgt_tokenizer"]) == ("char", "char")


def test_experiment_minutes_is_an_old_name_of_max_time(tmp_path, capsys):
    args = parsed(["experiment", "adding", "--minutes", "2"])
    assert settings(args)["max_time"] == 2.0
    assert capsys.readouterr().err == (
        "lstmkit experiment: warning: --minutes is deprecated; use --max-time\n"
    )
    (tmp_path / "c.yaml").write_text("minutes: 3\n")
    with pytest.warns(Warning, match="minutes is deprecated; use max_time"):
        chosen = settings(parsed(["experiment", "adding", "--config", str(tmp_path / "c.yaml")]))
    assert chosen["max_time"] == 3.0


def test_generate_puts_the_space_between_prompt_and_words(tmp_path, capsys):
    (tmp_path / "text.txt").write_text(TEXT)
    argv = ["lm", "train", "--data", tmp_path / "text.txt", "--tokenizer", "word", *TINY]
    assert run([*argv, "--out", tmp_path / "run"], capsys)[0] == 0
    code, out, _ = run(
        [
            "lm",
            "generate",
            tmp_path / "run",
            "--prompt",
            "my brother",
            "--max-tokens",
            "3",
            "--seed",
            "0",
        ],
        capsys,
    )
    assert code == 0
    assert out.startswith("my brother ")
    words = out.split()
    assert words[:2] == ["my", "brother"]
    assert len(words) >= 3  # the continuation's words, none glued to "brother"


@pytest.mark.parametrize("task", ["lm", "seq2seq"])
def test_the_command_line_has_the_python_apis_defaults(task, capsys):
    import inspect

    from lstmkit.registry import estimator_class

    code, out, _ = run([task, "train", "--data", "x.txt", "--print-config"], capsys)
    assert code == 0
    printed = {k: v for section in yaml.safe_load(out).values() for k, v in section.items()}
    cls = estimator_class(task)
    own = {n: p.default for n, p in inspect.signature(cls).parameters.items()}
    shared = [n for n, v in own.items() if n in printed and v is not None]
    assert "batch_size" in shared
    assert {n: printed[n] for n in shared} == {n: own[n] for n in shared}
    for (
        name,
        value,
    ) in cls.default_optim.items():  # the task's optimiser defaults, not OptimConfig's
        assert printed[name] == value
