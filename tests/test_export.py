"""Exports: the standalone .py (run in a fresh interpreter with only torch), ONNX under ONNX Runtime, JSON,
and hostile design names that must never become code."""

import ast
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from export_helpers import randomize, tiny
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import designs
from torch import nn

from explorer.design.cost import compute_cost
from explorer.design.presets import all_presets, get_preset
from explorer.design.spec import NAME, parse_design
from explorer.errors import DesignError, UserError
from explorer.export import class_name, from_json, onnx_bytes, to_json, to_onnx, to_python, verify_onnx
from explorer.model.build import build_model
from explorer.options import BIDI_CONTROLS, INVISIBLE_CATEGORIES, text_problem

RUFF = Path(sys.executable).parent / "ruff"
INJECTION = 'x"""); import os; os.system("echo pwned"); ("""'
HOSTILE_NAMES = [
    INJECTION,
    "x'''); import os; os.system('echo pwned'); ('''",
    '"""\nimport os\nos.system("echo pwned")\n"""',
    '\\"""); open("PWNED", "w"); ("""',
    "",
    "   ",
    "class",
    "None",
    "True",
    "2fast",
    "123",
    "réseau",
    "网络模型",
    "🚀",
    "x" * 200,
    "a\\",
    'ends with a quote"',
    "line\nbreak\r\nthen\u2028separator",
    "tab\tnul\x00",
    "\ud800 lone surrogate",
    "\\N{BULLET} \\u0022\\u0022\\u0022",
    "{cls} {docstring}",
    "Bottleneck",
    "ConvBNAct",
    "build_model",
    "Exception",
]


# Runs in a fresh interpreter with cwd outside the repo: -I (no PYTHONPATH, no script dir, no user site) and -S (no
# site-packages .pth files, so not the editable install of explorer); the folder holding torch comes as argv[2].
CHECKER = textwrap.dedent(
    """
    import importlib.util, json, runpy, sys
    sys.path.append(sys.argv[2])
    assert importlib.util.find_spec("explorer") is None, (
        "explorer must not be importable here (installed non-editable?)"
    )
    import torch
    torch.set_num_threads(1)
    for job in json.load(open(sys.argv[1])):
        # Imported, not run as __main__: its __main__ block would read this checker's argv as a weights path.
        namespace = runpy.run_path(job["py"], run_name="exported_model")
        torch.manual_seed(0)
        model = namespace["build_model"]()
        fresh = {k: v.clone() for k, v in model.state_dict().items()}
        result = {"params": sum(p.numel() for p in model.parameters()), "fresh": fresh}
        if job.get("state"):
            model.load_state_dict(torch.load(job["state"], weights_only=True), strict=True)
            with torch.no_grad():
                result["logits"] = model.eval()(torch.load(job["input"], weights_only=True))
        torch.save(result, job["out"])
    assert not any(m == "explorer" or m.startswith("explorer.") for m in sys.modules)
    """
)


def run_in_fresh_interpreter(codes: list[str], folder: Path, states=None, inputs=None) -> list[dict]:
    jobs = []
    for i, code in enumerate(codes):
        job = {"py": str(folder / f"model_{i}.py"), "out": str(folder / f"result_{i}.pt")}
        Path(job["py"]).write_text(code, encoding="utf-8")
        if states:
            job["state"], job["input"] = str(folder / f"state_{i}.pt"), str(folder / f"input_{i}.pt")
            torch.save(states[i], job["state"])
            torch.save(inputs[i], job["input"])
        jobs.append(job)
    (folder / "jobs.json").write_text(json.dumps(jobs))
    (folder / "check.py").write_text(CHECKER)
    before = set(os.listdir(folder))
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(folder)}
    r = subprocess.run(
        [sys.executable, "-I", "-S", "check.py", "jobs.json", str(Path(torch.__file__).resolve().parent.parent)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout == "" and r.stderr == "", "the generated files must do nothing but define the model"
    assert set(os.listdir(folder)) - before == {Path(j["out"]).name for j in jobs}  # no other side effects
    return [torch.load(j["out"], weights_only=True) for j in jobs]


def check_same_model(designs_, folder: Path, min_output: float = 0.0) -> None:
    models = [build_model(d).eval() for d in designs_]
    states = [randomize(m, seed=i) for i, m in enumerate(models)]
    inputs = [
        torch.randn(2, 3, d.input_size, d.input_size, generator=torch.Generator().manual_seed(i))
        for i, d in enumerate(designs_)
    ]
    results = run_in_fresh_interpreter([to_python(d) for d in designs_], folder, states, inputs)
    for d, model, x, res in zip(designs_, models, inputs, results, strict=True):
        assert res["params"] == sum(p.numel() for p in model.parameters()) == compute_cost(d).params
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # as in the checker: another thread count sums in another order (~1e-6 off)
        try:
            with torch.no_grad():
                expected = model(x)
        finally:
            torch.set_num_threads(threads)
        assert (res["logits"] - expected).abs().max().item() <= 1e-6
        assert expected.abs().max().item() >= min_output  # not a comparison of near-zero outputs
        # Same names both ways, and the same seed gives the same fresh weights (creation order matches).
        torch.manual_seed(0)
        explorer_fresh = build_model(d).state_dict()
        assert list(res["fresh"]) == list(explorer_fresh)
        assert all(torch.equal(res["fresh"][k], v) for k, v in explorer_fresh.items())
        build_model(d).load_state_dict(res["fresh"], strict=True)


@settings(max_examples=3, deadline=None)
@given(st.lists(designs(max_c=32), min_size=4, max_size=4))
def test_generated_py_matches_explorer_model_in_a_fresh_interpreter(random_designs):
    with tempfile.TemporaryDirectory() as folder:
        check_same_model(random_designs, Path(folder))


def test_presets_export_to_py_that_matches(tmp_path):
    # The paper's networks at a small input (the model is size-agnostic) to keep the forward passes quick.
    check_same_model([d.with_changes(input_size=64) for d in all_presets()], tmp_path, min_output=0.5)


def test_generated_py_is_ruff_formatted_and_lint_clean(tmp_path):
    for i, d in enumerate([*all_presets(), tiny(notes="a note\nwith two lines", source="somewhere")]):
        (tmp_path / f"m{i}.py").write_text(to_python(d), encoding="utf-8")
    for cmd in (["format", "--isolated", "--check"], ["check", "--isolated"]):
        r = subprocess.run([str(RUFF), *cmd, str(tmp_path)], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr


def test_generated_py_is_a_block_class_and_a_table_not_unrolled_layers():
    code = to_python(get_preset("MobileNet V2"))
    assert len(code.splitlines()) < 270  # with the __main__ part (count_macs, load_weights, main): about 80 lines
    assert '(6, 320, 1, 1, True, "linear", 3),' in code  # the stage table, as data
    assert "class Bottleneck(nn.Module):" in code and "class MobileNetV2(ExplorerNet):" in code
    assert "def build_model(num_classes: int = NUM_CLASSES) -> MobileNetV2:" in code
    doc = ast.get_docstring(ast.parse(code))
    assert "Params: 2,351,972" in doc and "MACs: 299,622,272" in doc and "out_act" in doc


@pytest.mark.parametrize(
    "name, expected",
    [
        ("SM_V2_2_1.5", "SmV2_2_1_5"),
        ("MobileNet V2", "MobileNetV2"),
        ("SM_V2", "SmV2"),
        ("réseau", "Reseau"),
        ("", "Net"),
        ("网络", "Net"),
        ("class", "Class"),
        ("None", "NoneNet"),
        ("2fast", "Net2fast"),
        ("Bottleneck", "BottleneckNet"),
        ("Exception", "ExceptionNet"),
    ],
)
def test_class_name_is_a_safe_identifier(name, expected):
    assert class_name(name) == expected


def module_level_is_only_definitions(code: str) -> ast.Module:
    tree = ast.parse(code)
    kinds = (ast.Import, ast.ImportFrom, ast.ClassDef, ast.FunctionDef, ast.Assign)
    assert isinstance(tree.body[0], ast.Expr) and isinstance(tree.body[0].value, ast.Constant)  # the docstring
    guard = tree.body[-1]  # the one `if __name__ == "__main__": sys.exit(main(sys.argv[1:]))`, last
    assert isinstance(guard, ast.If) and ast.unparse(guard.test) == "__name__ == '__main__'", ast.dump(guard)[:200]
    for node in tree.body[1:-1]:
        assert isinstance(node, kinds), ast.dump(node)[:200]
        if isinstance(node, ast.Assign):
            ast.literal_eval(node.value)
        if isinstance(node, ast.Import | ast.ImportFrom):
            modules = [node.module] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            assert all(m.split(".")[0] in ("collections", "torch") for m in modules)
    return tree


def test_hostile_names_and_notes_become_inert_text(tmp_path):
    codes = []
    refused = [n for n in HOSTILE_NAMES if NAME.problem(n) is not None]
    assert {"tab\tnul\x00", "\ud800 lone surrogate", "line\nbreak\r\nthen\u2028separator"} <= set(refused)
    assert {"", "   "} <= set(refused)  # an empty name would be a blank heading and an unnamed export
    assert len(HOSTILE_NAMES) - len(refused) >= 20  # quotes, keywords, non-ASCII, injections on one line
    for name in refused:  # control characters and lone surrogates never reach an export: refused with the place
        with pytest.raises(DesignError, match="^name: must"):
            tiny(name)
    for name in [n for n in HOSTILE_NAMES if n not in refused]:
        d = tiny(name, notes=name + "\n" + INJECTION, description=name)
        code = to_python(d)
        tree = module_level_is_only_definitions(code)
        classes = [n.name for n in tree.body if isinstance(n, ast.ClassDef)]
        assert classes == ["ConvBNAct", "Bottleneck", "ExplorerNet", class_name(name)]
        assert class_name(name).isidentifier() and class_name(name).isascii()
        doc = ast.get_docstring(tree, clean=False)
        assert name.rstrip() in doc  # escaped in the file, exact once Python reads it
        codes.append(code)
    results = run_in_fresh_interpreter(codes, tmp_path)  # each file is executed (as a module, not __main__)
    assert {r["params"] for r in results} == {compute_cost(tiny()).params}
    assert not (tmp_path / "PWNED").exists()


def test_injection_name_file_runs_as_a_script_and_does_only_what_main_says(tmp_path):
    path = tmp_path / "model.py"
    path.write_text(to_python(tiny(INJECTION)), encoding="utf-8")
    env = {"PATH": os.environ.get("PATH", "")}
    r = subprocess.run(
        [sys.executable, "-I", str(path)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert (r.returncode, r.stderr) == (0, "")
    lines = r.stdout.splitlines()  # build, count, one forward pass: nothing else, no file written
    cost = compute_cost(tiny())
    assert len(lines) == 2 and f": {cost.params:,} params, {cost.macs:,} MACs at " in lines[0]
    assert lines[1].startswith("forward pass on a random image: output (1, ")
    assert os.listdir(tmp_path) == ["model.py"]


# --- ONNX ---


def check_onnx_independently(data: bytes, model: nn.Module, design) -> None:
    proto = onnx.load_from_string(data)
    onnx.checker.check_model(proto, full_check=True)
    assert [o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")] == [17]
    assert [i.name for i in proto.graph.input] == ["input"] and [o.name for o in proto.graph.output] == ["logits"]
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param  # a named, dynamic batch dimension
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    for batch in (1, 3):
        x = torch.randn(batch, 3, design.input_size, design.input_size, generator=torch.Generator().manual_seed(9))
        with torch.no_grad():
            expected = model(x).numpy()
        got = session.run(None, {"input": x.numpy()})[0]
        assert got.shape == expected.shape and np.abs(got - expected).max() <= 1e-4


@settings(max_examples=4, deadline=None)
@given(designs(max_c=32))
def test_onnx_matches_pytorch_under_onnx_runtime(design):
    model = build_model(design).eval()
    state = randomize(model)
    data, report = onnx_bytes(design, state)
    assert report.verified and report.checker_ok and report.batch_sizes == (1, 3), report.message
    assert report.max_abs_diff <= 1e-4 and report.opset == 17 and report.size_bytes == len(data)
    check_onnx_independently(data, model, design)


def test_to_onnx_writes_one_file_with_the_trained_weights(tmp_path):
    d = get_preset("SM_V2").with_changes(input_size=64)
    model = build_model(d).eval()
    state = randomize(model, seed=3)
    path = tmp_path / "sm_v2.onnx"
    report = to_onnx(d, path, state)
    assert report.verified and report.path == str(path) and report.seconds > 0, report.message
    assert os.listdir(tmp_path) == ["sm_v2.onnx"]  # no temporary or external-data file left
    check_onnx_independently(path.read_bytes(), model, d)


def test_verification_catches_a_wrong_or_broken_file():
    d = tiny()
    data, _ = onnx_bytes(d, verify=False)
    other = build_model(d).eval()
    randomize(other, seed=1)
    wrong = verify_onnx(data, other, d.input_size)
    assert not wrong["verified"] and wrong["checker_ok"] and "differs" in wrong["message"]
    broken = verify_onnx(data[: len(data) // 2], other, d.input_size)
    assert not broken["verified"] and not broken["checker_ok"] and "checker failed" in broken["message"]


def test_onnx_refuses_bad_opset_and_mismatched_weights():
    with pytest.raises(UserError, match="opset"):
        onnx_bytes(tiny(), opset=16)
    wrong = build_model(tiny().with_changes(num_classes=7)).state_dict()
    with pytest.raises(UserError, match="classifier.weight \\[7, 16\\] vs \\[5, 16\\]"):
        onnx_bytes(tiny(), wrong)


# --- JSON ---

# Text a design accepts: no lone surrogates (Cs), no control characters (Cc; notes may hold newlines and tabs),
# and no bidirectional controls anywhere.
one_line = st.characters(
    blacklist_categories=("Cs", "Cc", *INVISIBLE_CATEGORIES), blacklist_characters=sorted(BIDI_CONTROLS)
)
multi_line = st.characters(
    blacklist_categories=("Cs", "Cc"), blacklist_characters=sorted(BIDI_CONTROLS), whitelist_characters="\n\t"
)
# a name is never empty, and never blank-looking or padded to look like another (options.text_problem)
names = st.text(one_line, min_size=1, max_size=40).filter(lambda s: s == s.strip() and text_problem(s) is None)
paper_values = st.floats(allow_nan=False, allow_infinity=False) | st.integers() | st.text(multi_line, max_size=8)
metas = st.fixed_dictionaries(
    {},
    optional={
        "notes": st.text(multi_line, max_size=80),
        "source": st.text(multi_line, max_size=20),
        "description": st.text(multi_line, max_size=20),
        "paper": st.dictionaries(st.text(one_line, max_size=8).filter(lambda s: text_problem(s) is None), paper_values),
    },
)


@given(designs(), names, metas)
def test_json_round_trip_is_exact(design, name, meta):
    d = parse_design({**design.to_dict(), "name": name, **meta})
    text = to_json(d)
    back = from_json(text)
    assert back == d and back.to_dict() == d.to_dict() and back.meta == d.meta
    assert to_json(back) == text and from_json(text.encode()) == d


def test_presets_round_trip_through_json():
    for d in all_presets():
        assert to_json(from_json(to_json(d))) == to_json(d)
        assert from_json(to_json(d)).to_dict() == d.to_dict()


def test_from_json_refuses_bad_designs():
    with pytest.raises(DesignError, match=r"stages\[0\].s"):
        from_json('{"stages": [{"t": 1, "c": 8, "n": 1, "s": 3}]}')
