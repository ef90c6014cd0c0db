"""The package is one pipe: no module imports from a stage to its right (docs/architecture.md)."""

import ast
import pathlib
import re

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "keras_bert_suite"
ARCHITECTURE = PACKAGE.parent / "docs" / "architecture.md"

# Left to right; a module imports only from its own stage or stages to its left.
STAGES = [
    ("version", "utils", "config"),
    ("checkpoints",),
    ("presets",),
    ("tokenizers",),
    ("preprocessing",),
    ("layers", "training"),
    ("models",),
    ("postprocessing",),
    ("export",),
    ("recipes",),
    ("cli",),
]
RANK = {name: rank for rank, names in enumerate(STAGES) for name in names}


def _modules():
    return sorted(path for path in PACKAGE.rglob("*.py") if path != PACKAGE / "__init__.py")


def _stage(path):
    """`keras_bert_suite/models/task.py` -> "models"; `keras_bert_suite/cli.py` -> "cli"."""
    return path.relative_to(PACKAGE).with_suffix("").parts[0]


def _imported_stages(tree):
    """`(line, stage or "" for the package root, in_function)` for every package import."""
    found = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                names = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom):
                assert child.level == 0, f"line {child.lineno}: use absolute imports"
                module = child.module or ""
                names = [f"{module}.{alias.name}" if module == "keras_bert_suite" else module
                         for alias in child.names]
            else:
                visit(child, nested)
                continue
            for name in names:
                parts = name.split(".")
                if parts[0] == "keras_bert_suite":
                    stage = parts[1] if len(parts) > 1 and parts[1] in RANK else ""
                    found.append((child.lineno, stage, in_function))

    visit(tree, False)
    return found


@pytest.mark.parametrize("path", _modules(), ids=lambda path: str(path.relative_to(PACKAGE)))
def test_imports_run_with_the_pipe(path):
    stage = _stage(path)
    assert stage in RANK, f"{path.relative_to(PACKAGE)} is in no stage of the pipe; add its folder to STAGES"
    for line, imported, in_function in _imported_stages(ast.parse(path.read_text(encoding="utf-8"))):
        where = f"{path.relative_to(PACKAGE)}:{line}"
        assert imported, f"{where} imports the package root; import the module that defines the name"
        assert RANK[imported] <= RANK[stage], f"{where}: {stage} imports {imported}, a stage to its right"
        assert not in_function, f"{where}: a function-local import of the package; import it at the top"


def test_every_folder_is_a_stage_and_the_architecture_page_names_it():
    folders = {path.name for path in PACKAGE.iterdir() if path.is_dir() and (path / "__init__.py").exists()}
    files = {path.stem for path in PACKAGE.glob("*.py")} - {"__init__"}
    assert folders | files == set(RANK)
    page = ARCHITECTURE.read_text(encoding="utf-8")
    for name in folders:
        assert re.search(rf"^  {name}/ ", page, re.MULTILINE), f"docs/architecture.md's layout misses {name}/"
    for name in files:
        assert re.search(rf"^  {name}\.py ", page, re.MULTILINE), f"docs/architecture.md's layout misses {name}.py"


def test_the_pipe_test_catches_an_import_against_the_pipe():
    tree = ast.parse("from keras_bert_suite.recipes.squad_decode import squad_predictions\n"
                     "def f():\n    import keras_bert_suite.tokenizers\n")
    assert _imported_stages(tree) == [(1, "recipes", False), (3, "tokenizers", True)]
