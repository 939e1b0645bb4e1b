"""The network's torch modules, built from plain data: the one definition of the model.

explorer.model.build builds it from a design; the .py export ships everything below this docstring verbatim and
adds the design as data, so the two cannot disagree. Hence this module imports only torch and the standard
library, stays within 88 columns (ruff's default, for other projects) and names nothing after a design.
"""

from collections import OrderedDict

import torch
from torch import nn


class ConvBNAct(nn.Sequential):
    """Bias-free conv -> BatchNorm -> ReLU6 (or nothing); padding k // 2 keeps the size."""

    def __init__(self, cin, cout, k=1, stride=1, groups=1, relu6=True):
        super().__init__(
            OrderedDict(
                conv=nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
                bn=nn.BatchNorm2d(cout),
                act=nn.ReLU6(inplace=True) if relu6 else nn.Identity(),
            )
        )


class Bottleneck(nn.Module):
    """MobileNetV2's inverted residual: 1x1 expand (none when t == 1), depthwise, 1x1 project."""

    def __init__(self, cin, cout, t, stride, kernel, skip, out_act):
        super().__init__()
        hidden = cin * t
        self.expand = ConvBNAct(cin, hidden) if t != 1 else None
        self.depthwise = ConvBNAct(hidden, hidden, kernel, stride, groups=hidden)
        self.project = ConvBNAct(hidden, cout, relu6=out_act == "relu6")
        self.skip = skip and stride == 1 and cin == cout  # an add needs equal shapes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.expand(x) if self.expand is not None else x
        y = self.project(self.depthwise(y))
        return x + y if self.skip else y


class ExplorerNet(nn.Module):
    """Stem conv, the bottleneck stages of a stage table, optional 1x1 conv, pooling, classifier.

    A stage table row is (t, c, n, s, skip, out_act, kernel): expansion t, output channels c,
    blocks n, stride s of the first block, residual skip (where shapes allow), activation
    after the 1x1 projection ("linear" is MobileNetV2's linear bottleneck), depthwise kernel.
    Module names: stem, stages.i.j.{expand,depthwise,project}, last_conv, pool, classifier.
    """

    def __init__(self, stages, num_classes, stem_channels=32, last_conv=0, dropout=0.2):
        super().__init__()
        self.stem = ConvBNAct(3, stem_channels, 3, 2)
        cin = stem_channels
        layers = []
        for t, c, n, s, skip, out_act, kernel in stages:
            blocks = []
            for i in range(n):
                stride = s if i == 0 else 1  # only a stage's first block strides
                blocks.append(Bottleneck(cin, c, t, stride, kernel, skip, out_act))
                cin = c
            layers.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*layers)
        self.last_conv = ConvBNAct(cin, last_conv) if last_conv else None
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(last_conv or cin, num_classes)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) images -> (B, num_classes) logits."""
        x = self.stages(self.stem(x))
        if self.last_conv is not None:
            x = self.last_conv(x)
        x = self.pool(x).flatten(1)
        return self.classifier(self.dropout(x))


def init_weights(model: nn.Module) -> None:
    """torchvision's MobileNetV2 initialisation, so training from scratch behaves as usual."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)
