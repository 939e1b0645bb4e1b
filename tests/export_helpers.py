"""Small fixtures shared by the export tests: a tiny design and weights whose outputs are of order 1."""

import torch
from torch import nn

from explorer.design.spec import Design, parse_design

TINY = {
    "name": "tiny",
    "num_classes": 5,
    "input_size": 32,
    "stem_channels": 8,
    "last_conv": 16,
    "dropout": 0.1,
    "stages": [{"t": 1, "c": 8, "n": 1, "s": 1}, {"t": 3, "c": 12, "n": 2, "s": 2, "kernel": 5}],
}


def tiny(name: str = "tiny", **meta) -> Design:
    return parse_design({**TINY, "name": name, **meta})


def randomize(model: nn.Module, seed: int = 0) -> dict:
    """Weights and BN statistics with outputs of order 1, so comparisons mean something (fresh init's are ~0.01)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d | nn.Linear):
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * 1.5 / fan_in**0.5)
                if m.bias is not None:
                    m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
    return {k: v.clone() for k, v in model.state_dict().items()}
