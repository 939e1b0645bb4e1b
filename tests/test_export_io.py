"""Checkpoints for export: a training checkpoint or a bare state dict, checked against the design, with
one-line errors naming the tensors; files that are not checkpoints (or would run code) refused."""

from dataclasses import replace

import pytest
import torch
from export_helpers import randomize, tiny

from explorer.errors import UserError
from explorer.export import load_weights
from explorer.model.build import build_model


def test_load_weights_accepts_checkpoints_and_bare_state_dicts(tmp_path):
    d = tiny()
    state = randomize(build_model(d))
    torch.save({"design": d.to_dict(), "model": state, "epoch": 3}, tmp_path / "ckpt.pt")
    torch.save(state, tmp_path / "bare.pt")
    other_dropout = d.with_changes(dropout=0.5, name="renamed")  # neither changes the weights' meaning
    for path in ("ckpt.pt", "bare.pt"):
        loaded = load_weights(other_dropout, tmp_path / path)
        assert list(loaded) == list(state) and all(torch.equal(loaded[k], v) for k, v in state.items())


def test_load_weights_names_mismatched_tensors_in_one_line(tmp_path):
    big = tiny().with_changes(stem_channels=16)  # every tensor touching the stem changes shape
    torch.save({"model": build_model(big).state_dict()}, tmp_path / "big.pt")
    with pytest.raises(UserError) as e:
        load_weights(tiny(), tmp_path / "big.pt")
    msg = str(e.value)
    assert "\n" not in msg and "stem.conv.weight [16, 3, 3, 3] vs [8, 3, 3, 3]" in msg and "more" in msg
    state = build_model(tiny()).state_dict()
    del state["classifier.bias"]
    state["extra.weight"] = torch.zeros(1)
    torch.save(state, tmp_path / "keys.pt")
    with pytest.raises(UserError, match="missing classifier.bias; unexpected extra.weight"):
        load_weights(tiny(), tmp_path / "keys.pt")


def test_load_weights_refuses_a_different_network_with_the_same_shapes(tmp_path):
    d = tiny()
    no_skip = d.with_changes(stages=(d.stages[0], replace(d.stages[1], skip=False)))
    torch.save({"design": no_skip.to_dict(), "model": build_model(no_skip).state_dict()}, tmp_path / "c.pt")
    with pytest.raises(UserError, match=r"trained for design 'tiny', which differs from 'tiny' in stages\[1\]"):
        load_weights(d, tmp_path / "c.pt")


class NotAllowed:  # weights_only=True refuses to build arbitrary classes from a file
    pass


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"not a checkpoint at all", "not a PyTorch checkpoint"),
        ("objects", "holds objects other than tensors"),
        ("list", "not a checkpoint: expected"),
        ("truncated", "not a PyTorch checkpoint"),
        (b"{}", "not a file written by torch.save"),
        ("missing", "no such checkpoint file"),
    ],
)
def test_load_weights_refuses_unreadable_files(tmp_path, content, expected):
    path = tmp_path / "c.pt"
    if content == "objects":
        torch.save({"model": build_model(tiny()).state_dict(), "extra": NotAllowed()}, path)
    elif content == "list":
        torch.save([torch.zeros(1)], path)
    elif content == "truncated":
        torch.save(build_model(tiny()).state_dict(), path)
        path.write_bytes(path.read_bytes()[:3000])
    elif isinstance(content, bytes):
        path.write_bytes(content)
    with pytest.raises(UserError, match=expected):
        load_weights(tiny(), path)
