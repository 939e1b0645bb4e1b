"""Validation: every kind of bad design is refused with one message per problem naming place and value."""

import json

import pytest
from hypothesis import given
from strategies import designs

from explorer.design.presets import all_presets
from explorer.design.spec import load_design_text, parse_design
from explorer.errors import DesignError

GOOD_STAGE = {"t": 1, "c": 16, "n": 1, "s": 1}


def problems_of(raw) -> list[str]:
    with pytest.raises(DesignError) as e:
        parse_design(raw)
    assert all("\n" not in p for p in e.value.problems)  # one line each
    return e.value.problems


def test_defaults_follow_the_documented_format():
    d = parse_design({"stages": [GOOD_STAGE]})
    assert (d.num_classes, d.input_size, d.stem_channels, d.last_conv, d.dropout) == (1000, 224, 32, 0, 0.2)
    s = d.stages[0]
    assert (s.skip, s.out_act, s.kernel) == (True, "linear", 3)


@pytest.mark.parametrize(
    "stage_patch, expected",
    [
        ({"s": 3}, "stages[0].s: must be one of 1, 2, got 3"),
        ({"t": True}, "stages[0].t: must be an integer from 1 to 32, got true"),
        ({"c": 16.0}, "stages[0].c: must be an integer from 1 to 4096, got 16.0"),
        ({"n": "2"}, 'stages[0].n: must be an integer from 1 to 32, got "2"'),
        ({"n": None}, "stages[0].n: must be an integer from 1 to 32, got null"),
        ({"c": 0}, "stages[0].c: must be from 1 to 4096, got 0"),
        ({"t": -1}, "stages[0].t: must be from 1 to 32, got -1"),
        ({"c": 100000}, "stages[0].c: must be from 1 to 4096, got 100000"),
        ({"kernel": 4}, "stages[0].kernel: must be one of 3, 5, 7, got 4"),
        ({"kernel": True}, "stages[0].kernel: must be one of 3, 5, 7, got true"),
        ({"out_act": "relu"}, 'stages[0].out_act: must be one of "linear", "relu6", got "relu"'),
        ({"skip": 1}, "stages[0].skip: must be true or false, got 1"),
        ({"x": 1}, "stages[0].x: unknown key"),
    ],
)
def test_bad_stage_values(stage_patch, expected):
    problems = problems_of({"stages": [{**GOOD_STAGE, **stage_patch}]})
    assert any(p.startswith(expected) for p in problems), problems


@pytest.mark.parametrize(
    "raw, expected",
    [
        ([], "design: must be a JSON object"),
        ("x", "design: must be a JSON object"),
        (None, "design: must be a JSON object"),
        ({}, "stages: is required"),
        ({"stages": []}, "stages: must hold at least one stage"),
        ({"stages": {}}, "stages: must be a list"),
        ({"stages": [GOOD_STAGE] * 33}, "stages: must hold at most 32 stages"),
        ({"stages": [1]}, "stages[0]: must be an object"),
        ({"stages": [{"t": 1}]}, "stages[0].c: is required"),
        ({"stages": [GOOD_STAGE], "bogus": 1}, "bogus: unknown key"),
        ({"stages": [GOOD_STAGE], "num_classes": 0}, "num_classes: must be from 1 to 100000"),
        ({"stages": [GOOD_STAGE], "input_size": 4}, "input_size: must be from 8 to 1024"),
        ({"stages": [GOOD_STAGE], "input_size": 10**9}, "input_size: must be from 8 to 1024"),
        ({"stages": [GOOD_STAGE], "last_conv": -1}, "last_conv: must be from 0 to 8192"),
        ({"stages": [GOOD_STAGE], "dropout": 1.0}, "dropout: must be a number in [0, 1)"),
        ({"stages": [GOOD_STAGE], "dropout": "0.2"}, "dropout: must be a number in [0, 1)"),
        ({"stages": [GOOD_STAGE], "name": 7}, "name: must be text of at most 200 characters"),
        ({"stages": [GOOD_STAGE], "paper": 3}, "paper: must be an object"),
        (
            {"stages": [{**GOOD_STAGE, "s": 2}] * 5, "input_size": 32},
            "input_size: must be at least the total stride 64",
        ),
    ],
)
def test_bad_designs(raw, expected):
    problems = problems_of(raw)
    assert any(p.startswith(expected) for p in problems), problems


def test_every_problem_is_reported_at_once():
    problems = problems_of({"stages": [{"t": 0, "c": 0, "n": 0, "s": 0}], "num_classes": -5})
    assert len(problems) == 5


@pytest.mark.parametrize(
    "text, expected",
    [
        ("{not json", "upload: not valid JSON"),
        (b"\xff\xfe", "upload: not UTF-8 text"),
        (b" " * 1_000_001, "upload: file is 1,000,001 bytes"),
        ("[1, 2]", "design: must be a JSON object"),
    ],
)
def test_bad_text(text, expected):
    with pytest.raises(DesignError) as e:
        load_design_text(text, origin="upload")
    assert str(e.value).startswith(expected)


@given(designs())
def test_json_round_trip_is_exact(design):
    again = load_design_text(design.to_json())
    assert again == design and again.to_dict() == design.to_dict()


def test_presets_round_trip_with_metadata():
    for d in all_presets():
        again = load_design_text(json.dumps(d.to_dict()))
        assert again.to_dict() == d.to_dict()
        assert again.meta["paper"]["accuracy_top1"] > 0


def test_hash_ignores_name_and_notes_but_not_the_network():
    d = all_presets()[2]
    assert d.with_changes(name="renamed", meta={}).network_hash() == d.network_hash()
    assert d.with_skips(False).network_hash() != d.network_hash()
