"""Rules of the package layout: the library never imports Streamlit, and the model is defined once, torch-only."""

import ast
import importlib.metadata
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import explorer

UI_PACKAGE = "explorer.ui"
ROOT = Path(__file__).resolve().parent.parent


def library_modules() -> list[str]:
    """Every module of `explorer` outside explorer/ui/ (and not __main__, which runs the CLI)."""
    names = [m.name for m in pkgutil.walk_packages(explorer.__path__, "explorer.")]
    return sorted(
        n for n in names if n != "explorer.__main__" and n != UI_PACKAGE and not n.startswith(UI_PACKAGE + ".")
    )


def test_the_library_never_imports_streamlit():
    modules = library_modules()
    assert {"explorer.cli.main", "explorer.design.plan", "explorer.model.network", "explorer.viz.charts"} <= set(
        modules
    )
    script = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m == 'streamlit' or m.startswith('streamlit.'))))\n"
    )
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads(r.stdout.splitlines()[-1]) == []


def test_the_model_definition_imports_only_torch_and_the_standard_library():
    # The .py export ships explorer/model/network.py verbatim, to machines that have torch and nothing else.
    tree = ast.parse((ROOT / "explorer" / "model" / "network.py").read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "no relative imports: the file must stand alone"
            imported.add(node.module.split(".")[0])
    assert "torch" in imported
    assert imported - {"torch"} <= sys.stdlib_module_names, imported


def test_the_installed_package_declares_the_pinned_requirements_and_the_command():
    # .ci/run installs the project (editable); its metadata comes from pyproject.toml and requirements.txt.
    dist = importlib.metadata.distribution("cnn-explorer")
    pinned = [
        line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines() if line.strip()[:1].isalnum()
    ]
    assert pinned and sorted(dist.requires or []) == sorted(pinned)
    assert not {"thop", "onnxscript"} & {p.split("==")[0] for p in pinned}  # test-only and unused
    scripts = {ep.name: ep.value for ep in dist.entry_points if ep.group == "console_scripts"}
    assert scripts == {"explorer": "explorer.cli.main:main"}


# The package map, lowest layer first (README, "Architecture"). A package imports only from its own layer or
# those below it, so the arrows point one way and no cycle can form between packages.
LAYERS = [
    {"errors", "safeio", "paths", "fmt", "options"},
    {"design"},
    {"model"},
    {"store"},
    {"train"},
    {"export"},
    {"measure"},
    {"predict"},
    {"viz"},
    {"search"},
    {"cli", "ui"},
]
LAYER_OF = {name: i for i, layer in enumerate(LAYERS) for name in layer}
FOUNDATION = LAYERS[0]  # small shared helpers every package may use

# What each package may import besides the foundation: the real dependencies, declared. The layer order alone would
# let search import viz or export import train; this map says which of the arrows down the list are meant.
ALLOWED = {
    "design": set(),
    "model": {"design"},
    "store": {"design"},  # a stored design is parsed (and a damaged one skipped) on read
    "train": {"design", "model", "store"},
    "export": {"design", "model"},
    "measure": {"design", "model", "store", "export"},  # ONNX Runtime times the exported file; results are stored
    "predict": {"design", "measure"},
    "viz": {"design", "measure"},
    "search": {"design", "model", "measure", "predict"},
    "cli": {"design", "export", "measure", "predict", "search", "store", "train"},
    "ui": {"design", "export", "measure", "predict", "search", "store", "train", "viz"},
}


def top_package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def imports_of(path: Path) -> list[tuple[str, int]]:
    """Every explorer module a file imports, absolute, with the line it is imported on."""
    rel = path.relative_to(ROOT).with_suffix("").parts
    package = rel[:-1]  # for __init__.py too: its imports resolve against the package itself
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package[: len(package) - (node.level - 1)])
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target == "explorer":  # `from explorer import x` / `from .. import x`: x is the module
                out += [(f"explorer.{a.name}", node.lineno) for a in node.names]
            elif target.startswith("explorer."):
                out.append((target, node.lineno))
        elif isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names if a.name.startswith("explorer.")]
    return out


def package_imports() -> list[tuple[str, str, str]]:
    """(importing package, imported package, "file:line") for every import between two explorer packages."""
    edges = []
    for path in sorted((ROOT / "explorer").rglob("*.py")):
        here = path.relative_to(ROOT).with_suffix("").parts
        if len(here) < 2 or here[1].startswith("_") or here[:3] == ("explorer", "ui", "pages"):
            continue  # __main__ runs the CLI; ui/pages/ are Streamlit's entry points into ui
        source = here[1]
        for target, line in imports_of(path):
            dest = top_package(target)
            if dest != source and dest != "__version__":
                edges.append((source, dest, f"{path.relative_to(ROOT)}:{line}"))
    return edges


def test_every_package_has_a_layer():
    found = {p.name for p in (ROOT / "explorer").iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    found |= {p.stem for p in (ROOT / "explorer").glob("*.py") if not p.stem.startswith("_")}
    assert found == set(LAYER_OF), "add the new package to LAYERS (and to the README's map)"
    assert set(ALLOWED) == set(LAYER_OF) - FOUNDATION, "declare the new package's dependencies in ALLOWED"


def test_the_declared_dependencies_point_down_the_layers():
    for source, targets in ALLOWED.items():
        assert all(LAYER_OF[t] < LAYER_OF[source] for t in targets), source


def test_imports_point_down_the_layers_only():
    wrong = [
        f"{where} ({source}) imports {dest}"
        for source, dest, where in package_imports()
        if dest in LAYER_OF and LAYER_OF[dest] > LAYER_OF[source]
    ]
    assert not wrong, "\n".join(wrong)


def undeclared(edges: list[tuple[str, str, str]]) -> list[str]:
    """The imports between packages that ALLOWED does not declare; the foundation imports only itself."""
    wrong = []
    for source, dest, where in edges:
        allowed = FOUNDATION if source in FOUNDATION else FOUNDATION | ALLOWED.get(source, set())
        if dest not in allowed:
            wrong.append(f"{where}: {source} imports {dest}")
    return wrong


def test_every_import_between_packages_is_a_declared_dependency():
    edges = package_imports()
    assert len({(source, dest) for source, dest, _ in edges}) > 30  # the walk found the library's imports
    wrong = undeclared(edges)
    assert not wrong, "declare the dependency in ALLOWED or move the code:\n" + "\n".join(wrong)


def test_every_declared_dependency_is_used():
    # A stale entry would let a new import slip in unseen: the map says what the code does, no more.
    used = {(source, dest) for source, dest, _ in package_imports()}
    stale = [f"{s} -> {d}" for s, targets in ALLOWED.items() for d in sorted(targets) if (s, d) not in used]
    assert not stale, "remove from ALLOWED: " + ", ".join(stale)


def test_the_dependency_check_reports_an_undeclared_import(tmp_path, monkeypatch):
    # The check must be able to fail: a search module importing viz, a foundation module importing design.
    (tmp_path / "explorer" / "search").mkdir(parents=True)
    (tmp_path / "explorer" / "search" / "bad.py").write_text("from ..viz.charts import x\nfrom ..design import y\n")
    (tmp_path / "explorer" / "fmt.py").write_text("from .design.plan import z\nfrom . import errors\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    edges = package_imports()
    assert sorted(edges) == [
        ("fmt", "design", "explorer/fmt.py:1"),
        ("fmt", "errors", "explorer/fmt.py:2"),
        ("search", "design", "explorer/search/bad.py:2"),
        ("search", "viz", "explorer/search/bad.py:1"),
    ]
    assert undeclared(edges) == [
        "explorer/fmt.py:1: fmt imports design",
        "explorer/search/bad.py:1: search imports viz",
    ]


def test_the_layer_check_resolves_relative_imports():
    # The checks above are only as good as their import resolution: in predict/__init__.py,
    # `from ..design.spec import x` must come out as explorer.design.spec and `from .model import y` as
    # explorer.predict.model (an __init__'s imports resolve against its own package).
    found = {target for target, _ in imports_of(ROOT / "explorer" / "predict" / "__init__.py")}
    assert found == {"explorer.design.spec", "explorer.predict.features", "explorer.predict.model"}


def test_no_private_name_is_imported_from_another_module():
    # A leading underscore says "only this module relies on it"; importing it elsewhere hides a dependency.
    found = []
    for path in sorted((ROOT / "explorer").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                private = [a.name for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
                found += [f"{path.relative_to(ROOT)}:{node.lineno} {name}" for name in private]
    assert not found, found


def test_a_test_never_sees_the_users_data_folder(data_dir, tmp_path, monkeypatch):
    # tests/conftest.py points the explorer's data folder, and the XDG data home it falls back to, into this
    # test's temporary folder; subprocesses inherit both. The user's ~/.local/share/cnn-explorer stays untouched.
    from explorer.paths import default_data_dir

    assert default_data_dir() == data_dir and data_dir.parent == tmp_path
    monkeypatch.delenv("EXPLORER_DATA_DIR")
    assert default_data_dir().is_relative_to(tmp_path)
    script = "from explorer.paths import default_data_dir; print(default_data_dir())"
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert Path(r.stdout.strip()).is_relative_to(tmp_path), r.stderr[-2000:]
