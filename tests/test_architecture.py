"""The rules between packages and the size limits, checked on every module (docs/architecture.md).

- ``model/`` and ``trainer/`` never import Qt; inside ``loda_desktop/`` only ``loda_desktop/ui/`` does.
- ``model/`` never imports ``trainer/`` or ``loda_desktop/``; ``trainer/`` never imports ``loda_desktop/``.
- The ONNX-only scoring path imports no torch when it is imported (a score-only build can leave torch out):
  checked in a fresh interpreter.
- No module in ``loda_desktop/`` or ``trainer/`` over 600 lines, no function over 80, argparse declarations
  excepted (a function that mostly declares arguments reads as a table, however long).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("model", "trainer", "loda_desktop")
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80


def modules(*packages: str) -> list[Path]:
    return sorted(p for package in packages for p in (ROOT / package).rglob("*.py"))


def imported(path: Path) -> set[str]:
    """Every module name an ``import`` anywhere in ``path`` names (top-level and inside functions)."""
    names: set[str] = set()
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                names.add(".".join([*base, node.module] if node.module else base))
            elif node.module:
                names.add(node.module)
    return names


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_qt_only_in_the_ui_package():
    offenders = [
        _rel(p)
        for p in modules(*PACKAGES)
        if "ui" not in p.relative_to(ROOT).parts and any(n.split(".")[0] == "PySide6" for n in imported(p))
    ]
    assert not offenders, f"Qt imported outside loda_desktop/ui/: {offenders}"


@pytest.mark.parametrize(
    ("package", "forbidden"), [("model", ("trainer", "loda_desktop")), ("trainer", ("loda_desktop",))]
)
def test_lower_packages_never_import_higher_ones(package, forbidden):
    offenders = [_rel(p) for p in modules(package) if any(n.split(".")[0] in forbidden for n in imported(p))]
    assert not offenders, f"{package}/ imports {forbidden}: {offenders}"


def test_the_onnx_scoring_path_imports_no_torch():
    code = (
        "import sys\n"
        "import loda_desktop.cli, loda_desktop.engine, loda_desktop.model_store, loda_desktop.catalog\n"
        "import loda_desktop.scan, loda_desktop.export, loda_desktop.errors, model.onnx_scorer, model.preprocess\n"
        "import model.profiles\n"
        "heavy = sorted(m for m in ('torch', 'timm', 'torchvision') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"imported at import time: {done.stdout.strip()}"


def _argparse_declaration(node: ast.AST, lines: list[str]) -> bool:
    body = lines[node.lineno - 1 : node.end_lineno]
    declaring = sum(1 for line in body if "add_argument(" in line or "add_parser(" in line)
    return declaring * 4 >= len(body)  # a declaration call every four lines or more: a table of arguments


def test_modules_and_functions_stay_small():
    too_long = []
    for path in modules("trainer", "loda_desktop"):
        lines = path.read_text(encoding="utf-8").splitlines()
        if len(lines) > MAX_MODULE_LINES:
            too_long.append(f"{_rel(path)}: {len(lines)} lines")
        for node in ast.walk(ast.parse("\n".join(lines))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES and not _argparse_declaration(node, lines):
                    too_long.append(f"{_rel(path)}:{node.lineno} {node.name}() {length} lines")
    assert not too_long, "over the limits (split them):\n" + "\n".join(too_long)
