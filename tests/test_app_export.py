"""The exported .py runs: it builds the model, prints params and MACs, runs one forward pass and loads the
weights the app hands out, exactly as its docstring says."""

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from explorer.design.cost import compute_cost
from explorer.design.spec import Design, Stage
from explorer.export import to_python
from explorer.model.build import build_model
from explorer.train.checkpoint import save_checkpoint

TINY = Design(name="tiny net", stages=(Stage(1, 8, 1, 1), Stage(2, 16, 2, 2)), num_classes=5, input_size=32)


def run_script(path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ.get("PATH", "")}
    return subprocess.run(
        [sys.executable, "-I", str(path), *args], cwd=path.parent, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def script(tmp_path) -> Path:
    path = tmp_path / "tiny_net.py"
    path.write_text(to_python(TINY), encoding="utf-8")
    return path


def test_running_the_file_builds_counts_and_runs_one_forward_pass(script):
    r = run_script(script)
    assert r.returncode == 0, r.stderr
    cost = compute_cost(TINY)
    counts, forward = r.stdout.splitlines()  # exactly two lines
    assert counts == f"TinyNet: {cost.params:,} params, {cost.macs:,} MACs at 32x32, batch 1"  # hooks = our count
    assert re.fullmatch(r"forward pass on a random image: output \(1, 5\), top class [0-4]", forward)


def test_the_file_loads_a_plain_state_dict_and_a_training_checkpoint(script, tmp_path):
    model = build_model(TINY)
    torch.save(model.state_dict(), tmp_path / "weights.pt")  # what the app's weights download holds
    save_checkpoint(tmp_path / "checkpoint.pt", {"model": model.state_dict(), "step": 3})  # what training writes
    for name in ("weights.pt", "checkpoint.pt"):
        r = run_script(script, str(tmp_path / name))
        assert r.returncode == 0, r.stderr
        assert r.stdout.splitlines()[0] == f"loaded weights from {tmp_path / name}"
    seven = build_model(TINY.with_changes(num_classes=7))  # a fine-tune on a 7-class dataset
    torch.save(seven.state_dict(), tmp_path / "seven.pt")
    r = run_script(script, str(tmp_path / "seven.pt"))
    assert r.returncode == 0 and "7 classes" in r.stdout and "output (1, 7)" in r.stdout, r.stderr
    wrong = build_model(TINY.with_changes(stem_channels=TINY.stem_channels * 2))
    torch.save(wrong.state_dict(), tmp_path / "wrong.pt")
    r = run_script(script, str(tmp_path / "wrong.pt"))
    lines = r.stderr.strip().splitlines()  # strict loading: another network is refused, in one line
    assert r.returncode == 2 and len(lines) == 1 and "size mismatch" in lines[0], r.stderr


def test_the_docstring_example_loads_the_apps_weights_download(tmp_path, monkeypatch):
    """Run the docstring's own lines against the bytes the Export panel offers for download."""
    from explorer.ui import export_panel

    ckpt = save_checkpoint(tmp_path / "run" / "checkpoint.pt", {"model": build_model(TINY).state_dict(), "step": 1})
    data = export_panel.weights_bytes.__wrapped__(TINY.to_json(), str(ckpt), 0)
    (tmp_path / "weights.pt").write_bytes(data)
    code = to_python(TINY)
    doc = ast.get_docstring(ast.parse(code))
    example = re.search(r"\n\n((?:    .*\n)+)\n", doc[doc.index("download is a plain state dict") :]).group(1)
    assert 'torch.load("weights.pt"' in example and 'checkpoint["model"]' not in example
    namespace: dict = {}
    exec(compile(code, "tiny_net.py", "exec"), namespace)  # defines build_model, as `import tiny_net` would
    monkeypatch.chdir(tmp_path)
    exec(compile(re.sub(r"(?m)^    ", "", example), "docstring", "exec"), namespace)
    loaded = namespace["model"].state_dict()
    expected = torch.load(tmp_path / "weights.pt", weights_only=True)
    assert set(loaded) == set(expected) and all(torch.equal(loaded[k], expected[k]) for k in expected)


def test_the_export_panel_reads_a_checkpoint_once_not_on_every_rerun(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from explorer.design.presets import get_preset
    from explorer.ui import export_panel

    monkeypatch.setenv("EXPLORER_DATA_DIR", str(tmp_path / "data"))
    sm = get_preset("SM_V2")
    ckpt = save_checkpoint(tmp_path / "run" / "checkpoint.pt", {"model": build_model(sm).state_dict()})
    reads = []
    real = export_panel.load_weights
    monkeypatch.setattr(export_panel, "load_weights", lambda d, p: reads.append(p) or real(d, p))
    export_panel.weights_bytes.clear()
    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "app.py"), default_timeout=120)
    at.session_state["checkpoints"] = {sm.network_hash(): str(ckpt)}
    at.session_state["design_tab"] = "Export"
    at.run()
    for baseline in ("SM_V2", "MobileNet V1", "MobileNet V2"):  # clicks elsewhere rerun the page, same design
        at.selectbox(key="baseline").set_value(baseline).run()
    assert not at.exception
    assert any(b.proto.label == "Fine-tuned weights (.pt state dict)" for b in at.get("download_button"))
    assert reads == [str(ckpt)]


def test_a_fine_tuned_network_exports_with_its_weights_ticked(tmp_path, monkeypatch):
    """The Export tab drawn before the fine-tune (box disabled, unticked) must not keep that state afterwards."""
    from app_helpers import new_app, open_tab

    from explorer.design.presets import get_preset

    monkeypatch.setenv("EXPLORER_DATA_DIR", str(tmp_path / "data"))
    sm = get_preset("SM_V2")
    at = open_tab(new_app(), "Export")
    (box,) = [c for c in at.checkbox if c.label == "with fine-tuned weights"]
    assert box.disabled and not box.value  # no fine-tune yet
    ckpt = save_checkpoint(tmp_path / "run" / "checkpoint.pt", {"model": build_model(sm).state_dict()})
    at.session_state["checkpoints"] = {sm.network_hash(): str(ckpt)}
    at.run()
    (box,) = [c for c in at.checkbox if c.label == "with fine-tuned weights"]
    assert not box.disabled and box.value
