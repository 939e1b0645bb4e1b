"""`python -m explorer search`: JSON shape, text output, and one-line errors with exit status 2."""

import json

import pytest

from explorer.cli.main import main
from explorer.predict.model import prior_coefficients
from explorer.predict.profile import profile_key
from explorer.store.results import ResultStore


@pytest.fixture
def profiled(data_dir):
    key = profile_key("torch", "cpu", 2, 1)
    profile = {"key": key, "model": {"coefficients": prior_coefficients(50.0, 10.0, "torch")}, "band_pct": 10.0}
    ResultStore(data_dir / "results.sqlite").add_profile(key, profile)


ARGS = ["search", "--preset", "SM_V2", "--threads", "2", "--no-measure", "--attempts", "200", "--seconds", "30"]


def test_json_lists_candidates_with_where_each_number_comes_from(capsys, profiled):
    assert main([*ARGS, "--top", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["candidates"]) == 3 and out["objective"] == "params" and out["seed"] == 0
    for c in out["candidates"]:
        assert {"design", "params", "macs", "predicted_ms", "measured_ms", "quality", "objective"} <= set(c)
        assert c["measured_ms"] is None and c["predicted_ms"] <= out["budget_ms"]
    assert out["budget_source"].startswith("the start design's")


def test_text_output(capsys, profiled):
    assert main(ARGS) == 0
    text = capsys.readouterr().out
    assert "start: SM_V2" in text and "screened 200 designs" in text and "predicted ms" in text


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--budget-ms", "0.000001"], "error: no design in this search space is predicted within"),
        (["--data", "/nowhere"], "error: --data gives the naswot objective its images"),
        (["--fields", "width"], "error: search fields must be some of"),
        (["--top", "0"], "error: --top must be from 1 to 50"),
        (["--seconds", "1"], "error: --seconds must be from 5 to 3600 seconds"),
        (["--seed", str(2**70)], "error: --seed must be from 0 to 4294967295"),
        (["--max-params", "1"], "error: no design fits: "),
        (["--attempts", "1"], "error: no new design was screened in 1 attempt"),
    ],
)
def test_mistakes_exit_2_with_one_line(capsys, profiled, extra, message):
    assert main([*ARGS, *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1


def test_a_non_finite_budget_is_refused_by_the_parser(capsys, profiled):
    with pytest.raises(SystemExit) as e:
        main([*ARGS, "--budget-ms", "nan"])
    assert e.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "--budget-ms must be a finite number" in lines[0]


def test_a_missing_profile_names_the_calibrate_command(capsys):
    assert main(ARGS) == 2
    err = capsys.readouterr().err
    assert "python -m explorer calibrate --backend torch --device cpu --threads 2 --batch 1" in err
    assert err.count("\n") == 1
