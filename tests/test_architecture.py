"""The architecture contract: imports point down only, and every task is registered once.

``lint-imports`` checks the contracts written in pyproject.toml ([tool.importlinter]): a layers
contract (cli / serve, export, inspect / the registry / task packages / shared layers / nn /
errors) and the task packages' independence. The registry's entries must all resolve, so that
the CLI, serve, export and inspect find every task through it alone.
"""

import ast
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

from lstmkit.registry import TASKS, estimator_class, task_spec
from lstmkit.train.estimator import Estimator

ROOT = Path(__file__).resolve().parents[1]


def test_the_import_contracts_are_kept():
    lint_imports = Path(sys.executable).with_name("lint-imports")
    if not lint_imports.exists():
        pytest.skip("lint-imports (import-linter) is not installed in this environment")
    done = subprocess.run([str(lint_imports)], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


@pytest.mark.parametrize("name", TASKS)
def test_every_registered_task_resolves(name):
    spec = task_spec(name)
    cls = estimator_class(name)
    assert issubclass(cls, Estimator)
    assert cls.task == name
    if spec.cli is not None:  # a task may have its Python API alone, for now
        cli = __import__(spec.cli, fromlist=["register"])
        assert callable(cli.register)
    for endpoint in spec.endpoints:
        factory = spec.endpoint(endpoint)
        assert list(inspect.signature(factory).parameters)[1:] == ["limits"]
    for adapter in ("onnx", "trace"):
        if getattr(spec, adapter) is not None:
            assert callable(spec.load(adapter))
    assert spec.trace_input in ("text", "series", "audio", "image")


def test_each_task_is_a_package_of_its_own():
    for name, spec in TASKS.items():
        package = ROOT / "src" / "lstmkit" / name
        assert (package / "__init__.py").exists(), f"{name}: expected the package {package}"
        assert spec.estimator.startswith(f"lstmkit.{name}:")


def test_an_endpoint_name_belongs_to_one_task():
    names = [e for spec in TASKS.values() for e in spec.endpoints]
    assert len(names) == len(set(names))


def test_no_module_imports_another_modules_private_names():
    private = []
    for path in sorted((ROOT / "src" / "lstmkit").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("lstmkit"):
                private += [
                    f"{path.relative_to(ROOT)}: {node.module}.{alias.name}"
                    for alias in node.names
                    if alias.name.startswith("_") and not alias.name.startswith("__")
                ]
    assert private == []


def test_no_two_packages_import_each_other():
    grimp = pytest.importorskip("grimp", reason="grimp comes with import-linter")
    graph = grimp.build_graph("lstmkit")
    package = {m: ".".join(m.split(".")[:2]) for m in graph.modules}
    edges = {
        (package[m], package[i])
        for m in graph.modules
        for i in graph.find_modules_directly_imported_by(m)
        if package[m] != package[i] and "lstmkit" not in (package[m], package[i])
    }
    cycles = [
        (a, b) for a, b in edges if graph.chain_exists(importer=b, imported=a, as_packages=True)
    ]
    assert cycles == []
