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
    assert {"explorer.cli", "explorer.plan", "explorer.network", "explorer.charts"} <= set(modules)
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
    # The .py export ships explorer/network.py verbatim, to machines that have torch and nothing else.
    tree = ast.parse(Path(explorer.__file__).with_name("network.py").read_text(encoding="utf-8"))
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
    assert scripts == {"explorer": "explorer.cli:main"}
