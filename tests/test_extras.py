"""Optional extras: the core install stays small, each optional package belongs to an extra, and a
command whose extra is missing says in one line which to install."""

import sys
from pathlib import Path

import pytest

import lstmkit
from lstmkit.cli.main import main

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def names(requirements: list[str]) -> set[str]:
    return {r.split(";")[0].split("[")[0].split(">")[0].split("=")[0].strip() for r in requirements}


def test_the_core_holds_no_optional_package():
    core = names(PROJECT["dependencies"])
    assert {"torch", "numpy", "safetensors", "tqdm", "pyyaml"} <= core
    assert not core & set(lstmkit.EXTRAS)


def test_every_optional_package_is_in_the_extra_named_for_it_and_all_has_every_extra():
    extras = PROJECT["optional-dependencies"]
    assert {"forecast", "serve", "export", "inspect", "docs", "dev", "all"} <= set(extras)
    # import name -> the name pip installs
    distributions = {"sklearn": "scikit-learn", "python_multipart": "python-multipart"}
    for package, extra in lstmkit.EXTRAS.items():
        if package != "starlette":  # comes with fastapi
            wanted = distributions.get(package, package)
            assert wanted in names(extras[extra]), (package, extra)
    (everything,) = extras["all"]
    inside = set(everything.removeprefix("lstmkit[").removesuffix("]").split(","))
    assert inside == set(extras) - {"all"}


def test_the_package_is_typed():
    assert (ROOT / "src" / "lstmkit" / "py.typed").is_file()
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "py.typed" in package_data["package-data"]["lstmkit"]


def test_a_command_whose_extra_is_missing_names_the_extra(monkeypatch, tmp_path, capsys):
    for name in [
        m for m in sys.modules if m == "scipy" or m.startswith(("scipy.", "lstmkit.inspect"))
    ]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "scipy", None)  # as if not installed
    out = tmp_path / "r.html"
    assert main(["inspect", str(tmp_path), "--text", "a b", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == (
        "lstmkit inspect: error: needs the optional package scipy, which is not installed: "
        "pip install 'lstmkit[inspect]'\n"
    )
    assert not out.exists()


def test_other_import_errors_are_not_hidden(monkeypatch, tmp_path):
    assert lstmkit.missing_extra(ImportError("cannot import name 'x'")) is None
    monkeypatch.setattr("lstmkit.cli.inspect.run", lambda args: __import__("no_such_module"))
    with pytest.raises(ModuleNotFoundError, match="no_such_module"):
        main(["inspect", str(tmp_path), "--text", "a", "--out", str(tmp_path / "r.html")])
