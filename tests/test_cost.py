"""The analytic cost model must agree exactly with the built model and with FlopCounterMode."""

import pytest
from hypothesis import given
from strategies import designs

from explorer.design.cost import compute_cost
from explorer.design.limits import DEFAULT_CAP, CostCap
from explorer.design.presets import all_presets, get_preset
from explorer.design.spec import parse_design
from explorer.errors import DesignError
from explorer.model.build import build_model
from explorer.model.crosscheck import flop_counter_macs, thop_counts


def _n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


@given(designs())
def test_cost_equals_built_model_and_flop_counter(design):
    cost = compute_cost(design)
    model = build_model(design)
    assert cost.params == _n_params(model)
    total, per_module = flop_counter_macs(design, model)
    assert cost.macs == total
    # Per layer too: every conv/linear layer's MACs equal what FlopCounterMode saw in that module.
    for lc in cost.layers:
        if lc.layer.kind in ("conv", "dwconv", "linear"):
            assert per_module.get(lc.layer.name, 0) == lc.macs, lc.layer.name


@given(designs())
def test_layer_params_match_modules(design):
    model = build_model(design)
    modules = dict(model.named_modules())
    checked = 0
    for lc in compute_cost(design).layers:
        if not lc.layer.is_module:  # a residual add: no module, and no parameters
            assert lc.layer.kind == "add" and lc.params == 0 and lc.layer.name not in modules, lc.layer.name
            continue
        assert lc.layer.name in modules, f"{lc.layer.name} is no module of the built model"
        assert lc.params == _n_params(modules[lc.layer.name]), lc.layer.name
        checked += 1
    assert checked >= 5  # stem, a block's depthwise and project, pool, classifier at the least


@pytest.mark.parametrize(
    "name, params",
    [("MobileNet V2", 2_351_972), ("MobileNet V1", 3_309_476), ("SM_V2", 1_538_372)],
)
def test_paper_anchor_param_counts(name, params):
    design = get_preset(name)
    assert compute_cost(design).params == params
    assert _n_params(build_model(design)) == params


def test_known_macs_of_mobilenet_v2():
    # 299.6 M MACs for MobileNetV2 at 224x224 with 100 classes (300 M with 1000 classes, as published).
    assert compute_cost(get_preset("MobileNet V2")).macs == 299_622_272
    mv2_1k = get_preset("MobileNet V2").with_changes(num_classes=1000)
    assert compute_cost(mv2_1k).params == 3_504_872  # torchvision's mobilenet_v2 parameter count


def test_flops_are_twice_macs_and_bytes_add_up():
    cost = compute_cost(get_preset("SM_V2"))
    assert cost.flops == 2 * cost.macs
    assert cost.bytes == sum(lc.read_bytes + lc.write_bytes for lc in cost.layers)
    assert 0 < cost.peak_activation_bytes < cost.activation_bytes


def test_residual_add_rereads_the_block_input():
    cost = compute_cost(get_preset("SM_V2"))
    add = next(lc for lc in cost.layers if lc.layer.kind == "add")
    values = add.layer.cout * add.layer.h_out**2
    assert (add.read_bytes, add.write_bytes, add.macs) == (2 * 4 * values, 4 * values, 0)
    no_skip = compute_cost(get_preset("SM_V2").with_skips(False))
    assert not any(lc.layer.kind == "add" for lc in no_skip.layers)
    assert no_skip.macs == cost.macs  # skips cost no MACs: exactly the paper's point


def test_depthwise_convs_have_low_arithmetic_intensity():
    cost = compute_cost(get_preset("MobileNet V2"))
    dw = [lc.intensity for lc in cost.layers if lc.layer.kind == "dwconv"]
    pw = [lc.intensity for lc in cost.layers if lc.layer.name.endswith(".expand")]
    assert max(dw) < min(pw)


def test_thop_difference_is_fully_explained():
    r = thop_counts(get_preset("SM_V2"))
    assert r["thop_params"] == r["our_params"]
    assert r["difference"] == sum(r["explained"].values()) > 0


def test_cost_cap_refuses_before_building():
    huge = parse_design({"stages": [{"t": 32, "c": 4096, "n": 32, "s": 1}]})
    with pytest.raises(DesignError) as e:
        build_model(huge)
    assert any("over the cap" in p for p in e.value.problems)
    small_cap = CostCap(macs=1_000_000)
    with pytest.raises(DesignError, match="G MACs is over the cap"):
        small_cap.check(get_preset("SM_V2"))
    DEFAULT_CAP.check(get_preset("SM_V2"))


@pytest.mark.parametrize("design", all_presets(), ids=lambda d: d.name)
def test_every_preset_builds_and_runs(design):
    import torch

    model = build_model(design).eval()
    with torch.inference_mode():
        out = model(torch.randn(1, 3, 224, 224))
    assert out.shape == (1, 100)


def test_module_names_are_legible():
    names = dict(build_model(get_preset("SM_V2")).named_modules())
    for expected in ["stem", "stages.2.1.expand", "stages.2.1.depthwise", "stages.2.1.project", "classifier"]:
        assert expected in names
    assert "stages.0.0.expand" not in names  # t = 1: no expansion conv
