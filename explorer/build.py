"""Design -> torch.nn.Module, with legible module names (stem, stages.2.1.depthwise, classifier).

The builder walks the same block records as the cost model (explorer.plan.blocks), so the two agree by
construction; tests check it against FlopCounterMode anyway.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from .cost import DEFAULT_CAP, CostCap
from .plan import BlockPlan, blocks
from .spec import Design


class ConvBNAct(nn.Sequential):
    """Bias-free conv -> BN -> ReLU6 (or nothing, for a linear bottleneck). Padding k//2 keeps 'same' size."""

    def __init__(self, cin: int, cout: int, k: int = 1, stride: int = 1, groups: int = 1, relu6: bool = True):
        super().__init__(
            OrderedDict(
                conv=nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
                bn=nn.BatchNorm2d(cout),
                act=nn.ReLU6(inplace=True) if relu6 else nn.Identity(),
            )
        )


class Bottleneck(nn.Module):
    """MobileNetV2's inverted residual: expand (pw) -> depthwise -> project (pw), plus the skip."""

    def __init__(self, b: BlockPlan):
        super().__init__()
        self.expand = ConvBNAct(b.cin, b.hidden) if b.expand else None  # t == 1: no expansion
        self.depthwise = ConvBNAct(b.hidden, b.hidden, b.kernel, b.stride, groups=b.hidden)
        self.project = ConvBNAct(b.hidden, b.cout, relu6=b.out_act == "relu6")
        self.skip = b.skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.expand(x) if self.expand is not None else x
        y = self.project(self.depthwise(y))
        return x + y if self.skip else y


class ExplorerNet(nn.Module):
    def __init__(self, design: Design):
        super().__init__()
        self.stem = ConvBNAct(3, design.stem_channels, 3, 2)
        stages: list[list[nn.Module]] = [[] for _ in design.stages]
        for b in blocks(design):
            stages[int(b.name.split(".")[1])].append(Bottleneck(b))
        self.stages = nn.Sequential(*(nn.Sequential(*s) for s in stages))
        c = design.stages[-1].c
        self.last_conv = ConvBNAct(c, design.last_conv) if design.last_conv else None
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(design.dropout)
        self.classifier = nn.Linear(design.last_conv or c, design.num_classes)
        _init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 3, H, W) -> (B, num_classes)
        x = self.stages(self.stem(x))
        if self.last_conv is not None:
            x = self.last_conv(x)
        x = self.pool(x).flatten(1)
        return self.classifier(self.dropout(x))


def _init_weights(model: nn.Module) -> None:
    # torchvision's MobileNetV2 initialisation, so fine-tuning from scratch behaves as users expect.
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)


def build_model(design: Design, cap: CostCap = DEFAULT_CAP) -> ExplorerNet:
    """Build the network; refuses a design over the cost cap before allocating any tensor."""
    cap.check(design)
    return ExplorerNet(design)
