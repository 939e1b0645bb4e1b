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


def test_every_package_has_a_layer():
    found = {p.name for p in (ROOT / "explorer").iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    found |= {p.stem for p in (ROOT / "explorer").glob("*.py") if not p.stem.startswith("_")}
    assert found == set(LAYER_OF), "add the new package to LAYERS (and to the README's map)"


def test_imports_point_down_the_layers_only():
    wrong = []
    for path in sorted((ROOT / "explorer").rglob("*.py")):
        here = path.relative_to(ROOT).with_suffix("").parts
        if len(here) < 2 or here[1].startswith("_") or here[:3] == ("explorer", "ui", "pages"):
            continue
        source = here[1]
        for target, line in imports_of(path):
            dest = top_package(target)
            if dest in LAYER_OF and LAYER_OF[dest] > LAYER_OF[source]:
                wrong.append(f"{path.relative_to(ROOT)}:{line} ({source}) imports {target} ({dest})")
    assert not wrong, "\n".join(wrong)


def test_the_layer_check_resolves_relative_imports():
    # The check above is only as good as its import resolution: `from ..design.limits import x` in model/build.py
    # must come out as explorer.design.limits.
    found = {target for target, _ in imports_of(ROOT / "explorer" / "model" / "build.py")}
    assert found == {"explorer.design.limits", "explorer.model.network", "explorer.design.plan", "explorer.design.spec"}


def test_old_import_paths_still_work_and_warn():
    import warnings

    from explorer._moved import MOVED

    script = (
        "import importlib, warnings\n"
        "warnings.simplefilter('error')\n"
        "try:\n"
        "    importlib.import_module('explorer.spec')\n"
        "except DeprecationWarning as e:\n"
        "    print('warned', e)\n"
    )
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert "warned explorer.spec is now explorer.design.spec" in r.stdout, r.stderr[-2000:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import importlib

        for old, new in MOVED.items():
            if "onnx" in new or "crosscheck" in new:
                continue  # heavy optional imports; the mapping is what is checked here
            assert importlib.import_module(old) is importlib.import_module(new), old


def test_the_project_itself_never_uses_an_old_import_path():
    from explorer._moved import MOVED

    used = []
    for folder in ("explorer", "tests", "benchmarks"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path.name in ("_moved.py", "test_architecture.py"):
                continue
            for target, line in imports_of(path) if folder == "explorer" else _absolute_imports(path):
                if target in MOVED:
                    used.append(f"{path.relative_to(ROOT)}:{line} {target}")
    assert not used, used


def _absolute_imports(path: Path) -> list[tuple[str, int]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("explorer"):
            out.append((node.module, node.lineno))
            out += [(f"{node.module}.{a.name}", node.lineno) for a in node.names]
        elif isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
    return out


def test_no_private_name_is_imported_from_another_module():
    # A leading underscore says "only this module relies on it"; importing it elsewhere hides a dependency.
    found = []
    for path in sorted((ROOT / "explorer").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                private = [
                    a.name
                    for a in node.names
                    if a.name.startswith("_") and not a.name.startswith("__") and a.name != "_moved"
                ]
                found += [f"{path.relative_to(ROOT)}:{node.lineno} {name}" for name in private]
    assert not found, found
