"""The typed plan: blocks and layers say where they sit, and the built model is exactly the plan's blocks."""

import json

from hypothesis import given
from strategies import designs

from explorer.design.plan import STAGE_FIELDS, LayerKind, blocks, expand, network_data, residual_adds
from explorer.design.presets import get_preset
from explorer.model.build import build_model
from explorer.model.network import Bottleneck


@given(designs())
def test_built_blocks_are_the_plans_blocks(design):
    model = build_model(design)
    plan = blocks(design)
    built = [name for name, mod in model.named_modules() if isinstance(mod, Bottleneck)]
    assert built == [b.name for b in plan]
    for b in plan:
        mod = model.get_submodule(b.name)
        assert mod.skip == b.skip, b.name
        assert (mod.expand is not None) == b.expand, b.name
        dw = mod.depthwise.conv
        assert (dw.in_channels, dw.stride, dw.kernel_size) == (b.hidden, (b.stride,) * 2, (b.kernel,) * 2), b.name
        assert mod.project.conv.out_channels == b.cout, b.name
        assert isinstance(mod.project.act, type(mod.depthwise.act)) == (b.out_act == "relu6"), b.name


@given(designs())
def test_blocks_and_layers_carry_their_stage_and_index(design):
    plan = blocks(design)
    assert [(b.stage, b.index_in_stage) for b in plan] == [
        (i, j) for i, st in enumerate(design.stages) for j in range(st.n)
    ]
    where = {b.name: (b.stage, b.index_in_stage) for b in plan}
    for ly in expand(design):
        assert isinstance(ly.kind, LayerKind)
        if ly.block:
            assert (ly.stage, ly.index_in_stage) == where[ly.block]
            assert ly.name.startswith(ly.block + ".")
        else:
            assert (
                ly.stage is None
                and ly.index_in_stage is None
                and ly.name in ("stem", "last_conv", "pool", "classifier")
            )


@given(designs())
def test_residual_adds_count_the_add_layers_of_the_plan(design):
    assert residual_adds(design) == sum(1 for ly in expand(design) if ly.kind == LayerKind.ADD)


def test_residual_adds_count_only_the_skips_that_happen():
    # MobileNet V2: skip asked in all 7 stages, but each stage's first block changes the width or the stride, so
    # of its 17 blocks 10 add their input.
    assert residual_adds(get_preset("MobileNet V2")) == 10
    assert residual_adds(get_preset("SM_V2_x2nr")) == 0  # no skips at all
    assert all(s.skip for s in get_preset("MobileNet V2").stages)


def test_layer_kind_reads_and_serialises_as_its_plain_name():
    kinds = [ly.kind for ly in expand(get_preset("SM_V2"))]
    assert set(kinds) == {"conv", "dwconv", "add", "pool", "linear"}
    assert json.dumps([LayerKind.DWCONV, f"{LayerKind.ADD}"]) == '["dwconv", "add"]'
    assert [ly.is_module for ly in expand(get_preset("SM_V2")) if ly.kind == LayerKind.ADD] == [False] * kinds.count(
        "add"
    )


def test_network_data_is_plain_literals_in_stage_field_order():
    design = get_preset("MobileNet V2")
    data = network_data(design)
    assert data["stages"][-1] == (6, 320, 1, 1, True, "linear", 3)
    assert [dict(zip(STAGE_FIELDS, row, strict=True)) for row in data["stages"]] == [
        {f: getattr(st, f) for f in STAGE_FIELDS} for st in design.stages
    ]
    assert (data["num_classes"], data["stem_channels"], data["last_conv"], data["dropout"]) == (100, 32, 1280, 0.2)
