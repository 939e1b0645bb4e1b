"""The training loop on generated data: learning, budgets, stop and resume, warm start, checkpoints, results."""

import threading

import pytest
import torch
from _imagedata import imagenet_layout, tiny_design_dict

from explorer.design.spec import parse_design
from explorer.errors import UserError
from explorer.model.build import build_model
from explorer.train.checkpoint import load_checkpoint, save_checkpoint, warm_start
from explorer.train.loop import TrainConfig, fine_tune, lr_at


@pytest.fixture(autouse=True)
def one_thread():
    # Tiny models gain nothing from 2 threads, and on a busy 2-core box OpenMP's spinning threads slow them
    # down many times over; restored afterwards so other test files see the default.
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return imagenet_layout(tmp_path_factory.mktemp("imagenet"))


def config(data, out, **kw):
    base = dict(
        design=parse_design(tiny_design_dict()),
        data=str(data),
        img_size=32,
        batch=8,
        workers=0,
        lr=0.05,
        out_dir=str(out),
        store_result=False,
        eval_every_epoch=False,
    )
    base.update(kw)
    return TrainConfig(**base)


def test_short_run_lowers_the_loss_and_reports_progress(data, tmp_path):
    events = []
    s = fine_tune(config(data, tmp_path / "run", max_steps=24, lr=0.1), events.append)
    steps = [e for e in events if e["event"] == "step"]
    assert [e["step"] for e in steps] == list(range(1, 25))
    first, last = sum(e["loss"] for e in steps[:3]) / 3, sum(e["loss"] for e in steps[-3:]) / 3
    assert last < first - 0.1, (first, last)
    assert {"step", "total_steps", "fraction", "epoch", "loss", "lr", "images_per_s", "eta_s"} <= set(steps[-1])
    assert steps[-1]["fraction"] == 1.0 and steps[-1]["total_steps"] == 24
    assert events[0]["event"] == "start" and events[-1]["event"] == "done"
    assert s.steps == 24 and s.skipped_images == 1 and s.skipped_examples[0].endswith("zz_corrupt.JPEG")
    assert 0 <= s.top1 <= 100 and s.top5 >= s.top1 and s.val_images == 16
    assert 24 * 8 - 4 <= s.images_seen < 24 * 8  # the corrupt file is dropped each of the 4 epochs that draw it
    ck = load_checkpoint(s.checkpoint)
    keys = {"design", "model", "optimizer", "scheduler", "step", "epoch", "config", "history", "rng", "metrics"}
    assert keys <= set(ck) and ck["step"] == 24 and ck["metrics"]["top1"] == s.top1
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["last.pt"]  # no temp file left behind


def test_stop_then_resume_matches_an_uninterrupted_run(data, tmp_path):
    full = fine_tune(config(data, tmp_path / "full", max_steps=10))
    stop = threading.Event()

    def press_stop(e):
        if e["event"] == "step" and e["step"] == 3:
            stop.set()

    first = fine_tune(config(data, tmp_path / "split", max_steps=10), press_stop, stop)
    assert first.stopped and 3 <= first.steps < 10
    saved = load_checkpoint(first.checkpoint)
    assert saved["step"] == first.steps and saved["epoch_offset"] == first.steps * 8  # mid-epoch (6 steps/epoch)
    events = []
    second = fine_tune(config(data, tmp_path / "split", max_steps=10, resume=True), events.append)
    assert second.resumed_from_step == first.steps and second.steps == 10 and not second.stopped
    assert [e["step"] for e in events if e["event"] == "step"] == list(range(first.steps + 1, 11))
    assert second.images_seen == full.images_seen
    a, b = load_checkpoint(full.checkpoint)["model"], load_checkpoint(second.checkpoint)["model"]
    for name in a:  # same samples, same order, same optimizer state: nothing lost
        assert torch.allclose(a[name].float(), b[name].float(), atol=1e-6), name


def test_resume_refuses_another_design_and_a_missing_checkpoint(data, tmp_path):
    fine_tune(config(data, tmp_path / "run", max_steps=2))
    other = parse_design({**tiny_design_dict(), "stem_channels": 4})
    with pytest.raises(UserError, match="another design"):
        fine_tune(config(data, tmp_path / "run", max_steps=4, resume=True, design=other))
    with pytest.raises(UserError, match="nothing to resume"):
        fine_tune(config(data, tmp_path / "empty", max_steps=4, resume=True))
    with pytest.raises(UserError, match="already holds a checkpoint"):
        fine_tune(config(data, tmp_path / "run", max_steps=4))


def test_warm_start_loads_matching_tensors_and_reports_the_rest(data, tmp_path):
    src = build_model(parse_design(tiny_design_dict()))
    save_checkpoint(tmp_path / "bare.pt", src.state_dict())  # a bare state dict is accepted too
    wide = {
        **tiny_design_dict(num_classes=7),
        "stages": [{"t": 1, "c": 8, "n": 1, "s": 1}, {"t": 2, "c": 16, "n": 2, "s": 2}],
    }
    dst = build_model(parse_design(wide))
    report = warm_start(dst, tmp_path / "bare.pt")
    assert "stem.conv.weight" in report.loaded and "stages.0.0.depthwise.conv.weight" in report.loaded
    assert torch.equal(dst.state_dict()["stem.conv.weight"], src.state_dict()["stem.conv.weight"])
    assert any(s.startswith("classifier.weight: shape (4, 12) there, (7, 16) here") for s in report.skipped)
    assert "classifier.weight" in report.missing and report.summary().startswith("warm start from")
    events = []
    s = fine_tune(config(data, tmp_path / "run", max_steps=2, init=str(tmp_path / "bare.pt")), events.append)
    assert s.warm_start["loaded"] and not s.warm_start["skipped"]
    assert events[0]["warm_start"].startswith("warm start from")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="not a PyTorch checkpoint"):
        warm_start(dst, tmp_path / "junk.pt")


def test_time_budget_ends_the_run_and_the_result_is_stored(data, tmp_path):
    from explorer.store.results import ResultStore

    store = tmp_path / "results.sqlite"
    cfg = config(
        data, tmp_path / "run", minutes=0.04, store_result=True, results_path=str(store), eval_every_epoch=True
    )
    s = fine_tune(cfg)
    assert s.steps > 0 and not s.stopped and s.minutes >= 0.04 and s.history
    rows = ResultStore(store).accuracies(s.design_hash)
    assert len(rows) == 1 and rows[0]["top1"] == pytest.approx(s.top1, abs=1e-3)
    assert rows[0]["label"] == f"quick fine-tune (49 images, {s.record['label'].split(', ')[1]}, res 32)"
    assert rows[0]["images"] == 49 and rows[0]["img_size"] == 32 and rows[0]["checkpoint"] == s.checkpoint


def test_classifier_follows_the_data_and_bad_configs_are_refused(data, tmp_path):
    s = fine_tune(config(data, tmp_path / "run", max_steps=1, design=parse_design(tiny_design_dict(num_classes=100))))
    assert s.num_classes == 4 and "classifier set to the data's 4 classes" in s.notes[0]
    for bad, words in [
        ({"batch": 1}, "batch"),
        ({"optimizer": "lion"}, "optimizer"),
        ({"max_steps": 0}, "max_steps"),
        ({"resume": True, "init": "x.pt"}, "exclude"),
        ({"batch": 64}, "only 49 training images"),
    ]:
        with pytest.raises(UserError, match=words):
            fine_tune(config(data, tmp_path / "bad", **bad))


def test_lr_schedule_warms_up_then_decays_to_zero():
    assert lr_at(0.0, 1.0, 0.1) == pytest.approx(0.01)
    assert lr_at(0.05, 1.0, 0.1) == pytest.approx(0.5)
    assert lr_at(0.1, 1.0, 0.1) == pytest.approx(1.0)
    assert lr_at(0.55, 1.0, 0.1) == pytest.approx(0.5)
    assert lr_at(1.0, 1.0, 0.1) == pytest.approx(0.0, abs=1e-12)


def test_loader_workers_end_with_the_run(data, tmp_path):
    # The app trains in a long-lived process: persistent loader workers must not outlive fine_tune.
    import multiprocessing

    events = []
    fine_tune(config(data, tmp_path / "run", max_steps=2, workers=1), events.append)
    assert events[0]["workers"] == 1
    assert multiprocessing.active_children() == []


def test_no_budget_means_the_quick_five_minutes_and_stop_keeps_the_work(data, tmp_path):
    stop = threading.Event()
    events = []

    def on_progress(e):
        events.append(e)
        if e["event"] == "step":
            stop.set()

    s = fine_tune(config(data, tmp_path / "run"), on_progress, stop)
    assert events[0]["budget_s"] == 300 and events[0]["total_steps"] is None
    assert s.stopped and s.steps <= 2 and load_checkpoint(s.checkpoint)["step"] == s.steps and s.val_images == 16
