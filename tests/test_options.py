"""explorer.options: each user-set value declared once checks itself in one line and generates its flag."""

import argparse
import dataclasses
import math

import pytest

from explorer.cli.calibrate import SECONDS, TARGET_OPTIONS
from explorer.cli.main import build_parser, main
from explorer.design.presets import get_preset
from explorer.design.spec import NETWORK_OPTIONS, STAGE_OPTIONS
from explorer.errors import UserError
from explorer.options import (
    BATCH,
    BUDGET,
    RUN_OPTIONS,
    THREADS,
    Option,
    check_args,
    from_args,
    options_of,
)
from explorer.train.config import TrainConfig, validate

ALL_OPTIONS = [*RUN_OPTIONS, *TARGET_OPTIONS, SECONDS, *options_of(TrainConfig), *STAGE_OPTIONS, *NETWORK_OPTIONS]


def bad_values(o: Option) -> list:
    """Values each option must refuse: the wrong type, a bool for a number, NaN/inf, just outside each bound."""
    if o.choices:
        return ["no-such-choice", 99, True] if isinstance(o.choices[0], str) else [max(o.choices) + 1, True, "3"]
    if o.kind is bool:
        return [1, "true", None]
    if o.kind is str:
        return [7] + ([] if o.optional else [None])
    wrong = ["1", True, None if not o.optional else [1]]
    if o.kind is int:
        wrong.append(2.5)
    else:
        wrong += [math.nan, math.inf, -math.inf]
        wrong += [10**400] if o.hi is not None else []  # an integer no float can hold
    step = 1 if o.kind is int else 1e-9
    if o.lo is not None:
        wrong.append(o.lo if o.lo_open else o.lo - step)
    if o.hi is not None:
        wrong.append(o.hi if o.hi_open else o.hi + step)
    return wrong


@pytest.mark.parametrize("o", ALL_OPTIONS, ids=lambda o: o.name)
def test_every_option_refuses_what_it_does_not_allow_in_one_line(o):
    for value in bad_values(o):
        line = o.message(value)
        assert line is not None, (o.name, value)
        assert "\n" not in line and len(line) < 200
        assert o.name in line, line  # the line names what is wrong
        with pytest.raises(UserError):
            o.check(value)
        if o.kind is not str or not o.choices:
            assert o.problem(value).startswith("must be")


@pytest.mark.parametrize("o", ALL_OPTIONS, ids=lambda o: o.name)
def test_every_option_allows_its_default_and_its_bounds(o):
    if not o.required:
        assert o.message(o.default) is None, o.name
    for bound, is_open in ((o.lo, o.lo_open), (o.hi, o.hi_open)):
        if bound is not None and not is_open:
            assert o.message(o.kind(bound)) is None, (o.name, bound)
    for choice in o.choices:
        assert o.check(choice) == choice


@pytest.mark.parametrize(
    "option, value, label, line",
    [
        (BATCH, 0, "--batch", "--batch must be at least 1, got 0"),
        (BATCH, 5000, "batch", "batch must be at most 1024, got 5000"),
        (BATCH, True, "batch", "batch must be an integer from 1 to 1024, got True"),
        (THREADS, 0, "--threads", "--threads must be at least 1, got 0"),
        (BUDGET, 0.0, "--budget", "--budget must be a positive number of seconds, got 0.0"),
        (BUDGET, 0.01, "budget", "budget must be at least 0.05 seconds, got 0.01"),
        (BUDGET, math.nan, "budget", "budget must be a finite number, got nan"),
        (RUN_OPTIONS[0], "tensorflow", "backend", "unknown backend 'tensorflow'; choose one of: torch, onnxruntime"),
        (RUN_OPTIONS[3], 10**30, "threads", "threads must be at most 256, got an integer of about 31 digits"),
    ],
)
def test_the_wording_of_the_run_options(option, value, label, line):
    assert option.message(value, label) == line


def test_the_design_fields_keep_their_place_aware_wording():
    t = next(o for o in STAGE_OPTIONS if o.name == "t")
    dropout = next(o for o in NETWORK_OPTIONS if o.name == "dropout")
    assert t.problem(0) == "must be from 1 to 32" and t.problem("2") == "must be an integer from 1 to 32"
    assert dropout.problem(1.0) == "must be a number in [0, 1)" and dropout.problem(0.0) is None


def test_training_values_say_which_bound_and_why():
    by_name = {o.name: o for o in options_of(TrainConfig)}
    assert by_name["batch"].message(1) == "batch must be at least 2 (batch norm needs it), got 1"
    assert by_name["max_steps"].message(0) == "max_steps must be a positive integer, got 0"
    assert by_name["minutes"].message(1e6) == "minutes must be at most 525600 (a year), got 1000000.0"
    assert by_name["workers"].message(65) == "workers must be from 0 to 64, got 65"
    assert by_name["lr"].message(math.inf) == "lr must be a finite number, got inf"


def test_generated_arguments_round_trip_their_defaults_and_types():
    p = argparse.ArgumentParser()
    for o in RUN_OPTIONS:
        o.add_to(p)
    defaults = p.parse_args([])
    assert {o.name: getattr(defaults, o.name) for o in RUN_OPTIONS} == {o.name: o.default for o in RUN_OPTIONS}
    given = p.parse_args(["--batch", "8", "--budget", "0.5", "--backend", "onnxruntime", "--min-runs", "3"])
    assert (given.batch, given.budget, given.backend, given.min_runs) == (8, 0.5, "onnxruntime", 3)
    assert type(given.budget) is float and type(given.batch) is int
    check_args(given, RUN_OPTIONS)  # in range: no error


def test_the_parser_refuses_non_finite_numbers_and_help_states_range_and_default(capsys):
    p = argparse.ArgumentParser()
    BUDGET.add_to(p)
    with pytest.raises(SystemExit):
        p.parse_args(["--budget", "nan"])
    assert "must be a finite number" in capsys.readouterr().err
    assert BUDGET.help_text() == "timed runs (from 0.05 to 60 seconds; default 2)"
    assert THREADS.help_text() == "CPU threads (from 1 to 256; default: all physical cores)"


def test_check_args_gives_one_line_per_problem_naming_the_flags():
    args = argparse.Namespace(**{o.name: o.default for o in RUN_OPTIONS})
    args.batch, args.threads = 0, 999
    with pytest.raises(UserError) as e:
        check_args(args, RUN_OPTIONS)
    assert str(e.value).splitlines() == ["--batch must be at least 1, got 0", "--threads must be at most 256, got 999"]


def test_train_flags_are_generated_from_train_config_with_the_same_defaults():
    design = get_preset("SM_V2")
    args = build_parser().parse_args(["train", "--preset", "SM_V2", "--data", "/data/x"])
    assert from_args(TrainConfig, args, design=design) == TrainConfig(design=design, data="/data/x")
    # every TrainConfig field is either a flag with the field's own default or deliberately not one
    flags = {o.name: o for o in options_of(TrainConfig) if o.flag is not None}
    not_flags = {f.name for f in dataclasses.fields(TrainConfig)} - set(flags)
    assert not_flags == {"design", "momentum", "nesterov"}
    for f in dataclasses.fields(TrainConfig):
        if f.name in flags and f.default is not dataclasses.MISSING:
            assert getattr(args, f.name) == f.default, f.name


def test_train_flags_map_onto_fields_including_the_inverted_switches():
    args = build_parser().parse_args(
        ["train", "--preset", "SM_V2", "--data", "d", "--no-store", "--no-epoch-eval", "--out", "o", "--store", "s"]
    )
    cfg = from_args(TrainConfig, args, design=get_preset("SM_V2"))
    assert (cfg.store_result, cfg.eval_every_epoch, cfg.out_dir, cfg.results_path) == (False, False, "o", "s")


def test_validate_reports_every_problem_and_the_rule_between_options():
    cfg = TrainConfig(design=get_preset("SM_V2"), data="d", batch=1, seed=-1, resume=True, init="x.pt")
    with pytest.raises(UserError) as e:
        validate(cfg)
    assert str(e.value).splitlines() == [
        "batch must be at least 2 (batch norm needs it), got 1",
        "seed must be from 0 to 4294967295, got -1",
        "resume and init exclude each other: a resumed run already has its weights",
    ]
    validate(TrainConfig(design=get_preset("SM_V2"), data="d"))  # the defaults are valid


@pytest.mark.parametrize(
    "argv, line",
    [
        (["bench", "--preset", "SM_V2", "--batch", "5000"], "error: --batch must be at most 1024, got 5000"),
        (
            ["calibrate", "--seconds", "1000"],
            "error: --seconds must be from 10 to 600 (a fresh worker and enough networks for a fit need it), "
            "got 1000.0",
        ),
        (["predict", "--preset", "SM_V2", "--threads", "0"], "error: --threads must be at least 1, got 0"),
        (["train", "--preset", "SM_V2", "--data", "d", "--img-size", "8"], "error: --img-size must be from 16 to 1024"),
        (["train", "--preset", "SM_V2", "--data", "d", "--warmup", "1"], "error: --warmup must be a number in [0, 1)"),
    ],
)
def test_a_mistake_on_the_command_line_is_one_error_line_and_exit_2(capsys, tmp_path, argv, line):
    assert main([*argv, *(["--store", str(tmp_path / "r.sqlite")] if argv[0] != "train" else [])]) == 2
    err = capsys.readouterr().err
    assert err.startswith(line) and err.count("\n") == 1, err
