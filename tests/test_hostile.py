"""Hostile input and faults, in-process: the design parser on anything, the file helpers on special files,
checkpoint bombs and links, stale temporaries, non-finite training, ONNX verification that can fail, and the
dataset-folder policy of an app opened to the network."""

import json
import os
import zipfile
from pathlib import Path

import pytest
import torch
from _imagedata import imagenet_layout, tiny_design_dict
from export_helpers import randomize, tiny
from hypothesis import given
from hypothesis import strategies as st

import explorer.train.data
from explorer.design.spec import Design, load_design_text, parse_design
from explorer.errors import UserError
from explorer.export.onnx_file import onnx_bytes, verify_onnx
from explorer.model.build import build_model
from explorer.safeio import atomic_write, read_file, remove_stale_temps
from explorer.store.results import ResultStore
from explorer.train.checkpoint import load_checkpoint, save_checkpoint
from explorer.train.data import check_dataset_location, detect_dataset
from explorer.train.loop import TrainConfig, fine_tune

# -- the design parser: a Design or a UserError, nothing else ----------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
VALID = tiny_design_dict()


@st.composite
def mutated_designs(draw):
    """A valid design with one value (top level or in a stage) replaced by anything JSON can hold."""
    d = json.loads(json.dumps(VALID))
    target = d if draw(st.booleans()) else draw(st.sampled_from(d["stages"]))
    key = draw(st.sampled_from([*target, "notes", "paper", "name", draw(st.text(max_size=5))]))
    target[key] = draw(json_values)
    return d


def parse_or_refuse(value):
    try:
        assert isinstance(parse_design(value), Design)
    except UserError as e:
        assert str(e).strip()  # a message, always


@given(st.one_of(json_values, mutated_designs()))
def test_parser_on_any_json_value_gives_a_design_or_a_user_error(value):
    parse_or_refuse(value)


@given(st.binary(max_size=300) | st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_loader_on_any_bytes_gives_a_design_or_a_user_error(data):
    try:
        assert isinstance(load_design_text(data, origin="upload"), Design)
    except UserError as e:
        assert str(e).strip()


@given(mutated_designs())
def test_any_accepted_design_can_be_printed_and_stored_as_utf8(raw):
    try:
        d = parse_design(raw)
    except UserError:
        return
    d.to_json().encode("utf-8")  # a lone surrogate would fail here (and in every print of the name)
    d.name.encode("utf-8")


@pytest.mark.parametrize(
    "text, words",
    [
        ("[" * 100_000 + "]" * 100_000, "nested deeper than"),
        ('{"stages": ' + "[" * 50 + "]" * 50 + "}", "nested deeper than"),
        ('{"num_classes": ' + "9" * 5000 + "}", "too long"),
        (json.dumps({**VALID, "name": "\ud800"}), "lone surrogate"),
        (json.dumps({**VALID, "name": "a\x1b[31mred"}), "control characters"),
        (json.dumps({**VALID, "paper": {"k\x07": 1}}), "control characters"),
        (json.dumps({**VALID, "dropout": 10**400}), "dropout"),
    ],
)
def test_parser_limits_are_user_errors(text, words):
    with pytest.raises(UserError, match=words):
        load_design_text(text, origin="upload")


def test_notes_keep_newlines_and_non_ascii_names_are_fine():
    d = parse_design({**VALID, "name": "réseau 网络 🚀", "notes": "line one\n\tline two"})
    assert d.name == "réseau 网络 🚀" and d.meta["notes"] == "line one\n\tline two"


# -- reading: regular files only, never more than the limit ----------------------------------------------


def test_read_file_refuses_devices_fifos_folders_and_large_files(tmp_path):
    os.mkfifo(tmp_path / "fifo")  # no writer: a blocking open would never return
    for path, why in [("/dev/zero", "a device"), (tmp_path / "fifo", "FIFO"), (tmp_path, "a folder")]:
        with pytest.raises(UserError, match=why):
            read_file(path, "design file", 1000)
    (tmp_path / "big").write_bytes(b"x" * 1001)
    with pytest.raises(UserError, match="at most 1,000 bytes"):
        read_file(tmp_path / "big", "design file", 1000)
    (tmp_path / "ok").write_bytes(b"x" * 1000)
    assert read_file(tmp_path / "ok", "design file", 1000) == b"x" * 1000


def test_read_file_follows_links_only_when_asked(tmp_path):
    (tmp_path / "real").write_bytes(b"data")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert read_file(tmp_path / "link", "design file", 100) == b"data"
    with pytest.raises(UserError, match="symbolic link"):
        read_file(tmp_path / "link", "checkpoint file", 100, follow_symlinks=False)


# -- writing: atomic, short temporary names, special targets refused --------------------------------------


def test_atomic_write_refuses_special_targets_and_leaves_them_untouched(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious")
    (tmp_path / "link").symlink_to(victim)
    os.mkfifo(tmp_path / "fifo")
    cases = [
        (tmp_path / "link", "symbolic link"),
        (tmp_path / "fifo", "FIFO"),
        ("/dev/null", "a device"),
        (tmp_path, "is a folder"),
        (f"{tmp_path}/new/", "ends with '/'"),
    ]
    for target, why in cases:
        with pytest.raises(UserError, match=why):
            with atomic_write(target) as sink:
                sink.write(b"attack")
    assert victim.read_text() == "precious" and os.path.islink(tmp_path / "link")
    assert sorted(os.listdir(tmp_path)) == ["fifo", "link", "victim"]


def test_atomic_write_takes_a_250_character_name_and_cleans_up_on_error(tmp_path):
    target = tmp_path / ("n" * 250)
    with atomic_write(target) as sink:
        sink.write(b"ok")
    assert target.read_bytes() == b"ok"
    with pytest.raises(RuntimeError):
        with atomic_write(target) as sink:
            sink.write(b"half")
            raise RuntimeError("crash mid-write")
    assert target.read_bytes() == b"ok" and os.listdir(tmp_path) == [target.name]


def test_stale_temporaries_are_removed_but_nothing_else(tmp_path):
    (tmp_path / ".explorer-0123abcd.tmp").write_bytes(b"left by kill -9")
    (tmp_path / "keep.tmp").write_bytes(b"not ours")
    removed = remove_stale_temps(tmp_path)
    assert [p.name for p in removed] == [".explorer-0123abcd.tmp"] and os.listdir(tmp_path) == ["keep.tmp"]


# -- checkpoints: bombs, links, special files ---------------------------------------------------------------


def test_a_decompression_bomb_is_refused_before_anything_is_unpacked(tmp_path, monkeypatch):
    path = tmp_path / "bomb.pt"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("archive/data.pkl", b"\0" * (300 << 20))  # 300 MB of zeros in ~300 kB
    assert path.stat().st_size < 1 << 20
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("torch.load ran on a zip bomb"))
    with pytest.raises(UserError, match="declares 314,572,800 bytes unpacked"):
        load_checkpoint(path)


def test_checkpoints_are_neither_read_nor_written_through_links(tmp_path):
    state = build_model(tiny()).state_dict()
    real = save_checkpoint(tmp_path / "real.pt", {"model": state})
    (tmp_path / "link.pt").symlink_to(real)
    with pytest.raises(UserError, match="symbolic link"):
        load_checkpoint(tmp_path / "link.pt")
    victim = tmp_path / "victim"
    victim.write_text("precious")
    (tmp_path / "last.pt").symlink_to(victim)
    with pytest.raises(UserError, match="symbolic link"):
        save_checkpoint(tmp_path / "last.pt", {"model": state})
    assert victim.read_text() == "precious"
    assert set(load_checkpoint(real)["model"]) == set(state)


# -- training: outputs, non-finite losses, stale temporaries, top-k ---------------------------------------


@pytest.fixture(scope="module")
def two_classes(tmp_path_factory):
    return imagenet_layout(tmp_path_factory.mktemp("two"), classes=2, train=4, val=2)


def train_config(data, out, **kw):
    base = dict(
        design=parse_design(tiny_design_dict()),
        data=str(data),
        img_size=32,
        batch=4,
        workers=0,
        out_dir=str(out),
        store_result=False,
        eval_every_epoch=False,
    )
    return TrainConfig(**{**base, **kw})


def test_a_non_finite_loss_stops_training_and_stores_nothing(two_classes, tmp_path, monkeypatch):
    real = torch.nn.functional.cross_entropy
    monkeypatch.setattr(torch.nn.functional, "cross_entropy", lambda *a, **k: real(*a, **k) * float("inf"))
    store = tmp_path / "r.sqlite"
    cfg = train_config(two_classes, tmp_path / "run", max_steps=20, store_result=True, results_path=str(store))
    with pytest.raises(UserError, match=r"the loss became (nan|inf).*nothing was stored"):
        fine_tune(cfg)
    assert not (tmp_path / "run" / "last.pt").exists()
    assert ResultStore(store).accuracies() == []


@pytest.mark.parametrize("option", ["lr", "minutes", "weight_decay", "warmup"])
def test_non_finite_config_values_are_refused(two_classes, tmp_path, option):
    for value in (float("nan"), float("inf")):
        with pytest.raises(UserError, match=f"{option} must be a finite number"):
            fine_tune(train_config(two_classes, tmp_path / "run", **{option: value}))


def test_stale_temporaries_go_and_top_k_is_stated(two_classes, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / ".last.pt.4242.tmp").write_bytes(b"killed during fsync")
    (run / ".explorer-deadbeef0000.tmp").write_bytes(b"killed during fsync")
    s = fine_tune(train_config(two_classes, run, max_steps=1, store_result=True, results_path=str(tmp_path / "r.db")))
    assert sorted(os.listdir(run)) == ["last.pt"]
    assert s.top_k == 2 and s.record["top5"] is None and s.record["top_k"] == 2  # top-5 of 2 classes means nothing


def test_train_refuses_an_unwritable_store_before_training(two_classes, tmp_path):
    events = []
    bad_store = tmp_path / "store-is-a-folder"
    bad_store.mkdir()
    cfg = train_config(two_classes, tmp_path / "run", max_steps=1, store_result=True, results_path=str(bad_store))
    with pytest.raises(UserError, match="is a folder"):
        fine_tune(cfg, events.append)
    assert not [e for e in events if e["event"] == "step"]


# -- data: unreadable class folders, the dataset root -------------------------------------------------------


def test_an_unreadable_class_folder_is_named(tmp_path, monkeypatch):
    root = imagenet_layout(tmp_path / "images", classes=2, train=2, val=1)
    locked = root / "train" / sorted(os.listdir(root / "train"))[1]
    real_scandir = os.scandir

    def scandir(path="."):
        if Path(path) == locked:  # root ignores permissions, so deny the way the OS would
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(explorer.train.data.os, "scandir", scandir)
    with pytest.raises(UserError, match=f"{locked}: cannot list the class folder \\(Permission denied\\)"):
        detect_dataset(root)


def test_dataset_folders_under_a_root_only_when_the_app_is_on_the_network(tmp_path, monkeypatch):
    monkeypatch.delenv("EXPLORER_DATASET_ROOT", raising=False)
    assert check_dataset_location("/etc", "127.0.0.1") == Path("/etc")  # local: the user's own machine
    with pytest.raises(UserError, match="EXPLORER_DATASET_ROOT"):
        check_dataset_location("/etc", "0.0.0.0")
    with pytest.raises(UserError, match="EXPLORER_DATASET_ROOT"):
        check_dataset_location(str(tmp_path), None)  # Streamlit's default listens everywhere
    monkeypatch.setenv("EXPLORER_DATASET_ROOT", str(tmp_path))
    (tmp_path / "in").mkdir()
    (tmp_path / "escape").symlink_to("/etc")
    assert check_dataset_location(tmp_path / "in", "0.0.0.0") == (tmp_path / "in").resolve()
    for outside in ("/etc", tmp_path / "escape", f"{tmp_path}/in/../../etc", "/no/such/place"):
        with pytest.raises(UserError, match="only dataset folders under the configured root"):  # one answer
            check_dataset_location(outside, "0.0.0.0")


# -- ONNX verification that can fail ------------------------------------------------------------------------


def test_nan_weights_never_match():
    model = build_model(tiny()).eval()
    state = model.state_dict()
    state["stem.conv.weight"][0, 0, 0, 0] = float("nan")
    _, report = onnx_bytes(tiny(), state)
    assert not report.verified and "not finite" in report.message


def test_fresh_weights_are_checked_with_random_weights_too():
    _, report = onnx_bytes(tiny())
    assert report.verified, report.message
    assert report.randomized_rel_diff is not None and report.randomized_rel_diff <= 1e-4
    assert "relative" in report.message


def test_a_file_of_another_graph_fails_even_with_tiny_fresh_logits():
    with_skips = tiny()
    data, _ = onnx_bytes(with_skips, verify=False)
    other = build_model(with_skips.with_skips(False)).eval()  # same tensors, another graph
    other.load_state_dict(build_model(with_skips).state_dict())
    report = verify_onnx(data, other, with_skips.input_size)
    assert not report["verified"] and "differs" in report["message"]


def test_relative_error_is_reported_for_meaningful_outputs():
    model = build_model(tiny()).eval()
    state = randomize(model)
    _, report = onnx_bytes(tiny(), state)
    assert report.verified and report.randomized_rel_diff is None  # large logits: no second export needed
    assert 0 <= report.max_rel_diff <= 1e-4 and "max relative diff" in report.message


def test_a_flood_of_problems_is_reported_in_a_few_lines():
    with pytest.raises(UserError) as e:
        parse_design({**VALID, **{f"junk{i}": i for i in range(10_000)}})
    lines = str(e.value).splitlines()
    assert len(lines) == 21 and lines[-1] == "design: and 9980 more problems"


@pytest.mark.parametrize(
    "option, value, words",
    [
        ("workers", 10**6, "workers must be from 0 to 64"),
        ("seed", 10**30, "seed must be from 0"),
        ("seed", -1, "seed must be from 0"),
        ("minutes", 1e308, "minutes must be at most"),
        ("max_steps", 10**30, "max_steps must be at most"),
    ],
)
def test_absurd_training_numbers_are_refused_before_anything_starts(two_classes, tmp_path, option, value, words):
    with pytest.raises(UserError, match=words):
        fine_tune(train_config(two_classes, tmp_path / "run", **{option: value}))
    assert not (tmp_path / "run").exists()


def test_names_cannot_hide_behind_bidirectional_controls():
    with pytest.raises(UserError, match="bidirectional"):
        parse_design({**VALID, "name": "safe\u202egnp.exe"})
    assert parse_design({**VALID, "name": "🧑‍💻 dev"}).name == "🧑‍💻 dev"  # joiners in emoji stay fine
