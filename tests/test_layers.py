"""The layer rule, checked on the source: the UI never imports TensorFlow, core never Streamlit.

The UI side is walked transitively: app.py and pages/*.py, then every core/pages module they
import at module level (what actually runs when the server loads a page). Imports inside
functions are lazy on purpose (core.jobs may import the worker only when asked) and are allowed.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("tensorflow", "keras", "yfinance")
LOCAL_PACKAGES = ("core", "pages")


def _top(name: str) -> str:
    return name.split(".")[0]


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _module_level_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Import statements that run when the module is imported (not inside functions)."""
    found: list[ast.Import | ast.ImportFrom] = []
    stack: list[ast.AST] = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
            continue
        stack.extend(ast.iter_child_nodes(node))
    return found


def _all_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    return [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]


def _imported_names(node: ast.Import | ast.ImportFrom, package: str) -> list[str]:
    """Absolute dotted names an import statement may load (``from core import x`` → core.x)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:  # relative: resolve against the importing module's package
        parts = package.split(".")[: len(package.split(".")) - node.level + 1]
        base = ".".join([*parts, base] if base else parts)
    return [base] + [f"{base}.{alias.name}" for alias in node.names if alias.name != "*"]


def _module_file(name: str, root: Path) -> Path | None:
    path = root.joinpath(*name.split("."))
    if path.with_suffix(".py").is_file():
        return path.with_suffix(".py")
    if (path / "__init__.py").is_file():
        return path / "__init__.py"
    return None


def _package_of(path: Path, root: Path) -> str:
    return ".".join(path.relative_to(root).parts[:-1])


def heavy_imports(entry_files: list[Path], root: Path = ROOT) -> list[str]:
    """Breaches as 'file imports X (via chain)' for every heavy module reachable at import time."""
    breaches: list[str] = []
    seen: set[Path] = set()
    todo: list[tuple[Path, tuple[str, ...]]] = [(f, (f.name,)) for f in entry_files]
    while todo:
        path, chain = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in _module_level_imports(tree):
            for name in _imported_names(node, _package_of(path, root)):
                if _top(name) in HEAVY:
                    breaches.append(f"{' -> '.join(chain)} imports {_top(name)}")
                elif _top(name) in LOCAL_PACKAGES and (dep := _module_file(name, root)):
                    todo.append((dep, (*chain, str(dep.relative_to(root)))))
    return sorted(set(breaches))


def ui_entry_files(root: Path = ROOT) -> list[Path]:
    return [root / "app.py", *sorted((root / "pages").glob("*.py"))]


def test_ui_never_imports_tensorflow_keras_or_yfinance():
    entries = ui_entry_files()
    assert (ROOT / "app.py").is_file()
    assert len(entries) >= 5, "app.py and the pages should be there"
    assert heavy_imports(entries) == []


def test_core_never_imports_streamlit():
    breaches = []
    for path in sorted((ROOT / "core").rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in _all_imports(tree):
            for name in _imported_names(node, _package_of(path, ROOT)):
                if _top(name) == "streamlit":
                    breaches.append(f"{path.relative_to(ROOT)} imports {name}")
    assert breaches == []


@pytest.mark.parametrize(
    ("page_src", "core_src", "expected"),
    [
        ("import tensorflow as tf\n", "", "page.py imports tensorflow"),
        ("from keras import layers\n", "", "page.py imports keras"),
        ("from core import lib\n", "import yfinance\n", "page.py -> core/lib.py imports yfinance"),
        (
            "from core.lib import f\n",
            "try:\n    import keras\nexcept ImportError:\n    pass\n",
            "page.py -> core/lib.py imports keras",
        ),
        (
            "import core.lib\n",
            "class A:\n    import tensorflow\n",
            "page.py -> core/lib.py imports tensorflow",
        ),
    ],
)
def test_walker_catches_a_breach(tmp_path, page_src, core_src, expected):
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "__init__.py").write_text("")
    (tmp_path / "core" / "lib.py").write_text(core_src)
    (tmp_path / "page.py").write_text(page_src)
    assert heavy_imports([tmp_path / "page.py"], tmp_path) == [expected]


def test_walker_allows_lazy_imports(tmp_path):
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "__init__.py").write_text("")
    lazy = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import keras\n"
        "def build():\n    import tensorflow as tf\n    return tf\n"
    )
    (tmp_path / "core" / "lib.py").write_text(lazy)
    (tmp_path / "page.py").write_text("from core import lib\nimport streamlit as st\n")
    assert heavy_imports([tmp_path / "page.py"], tmp_path) == []


def test_every_top_level_pages_file_is_a_page_of_the_navigation():
    """Streamlit serves every pages/*.py as a page until app.py's st.navigation has run once
    (after a restart, when the first request is not /): helpers live in pages/lib/ instead."""
    app = (ROOT / "app.py").read_text()
    registered = set(re.findall(r'st\.Page\(\s*"pages/([a-z_]+\.py)"', app))
    on_disk = {p.name for p in (ROOT / "pages").glob("*.py")}
    assert registered and on_disk == registered
