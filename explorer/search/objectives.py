"""What a search maximizes: capacity (params or MACs) at the latency budget, or a zero-cost proxy.

params and MACs are exact and instant (the cost model). NASWOT (Mellor et al., 2021) scores an untrained
network by how differently its ReLU units switch across one minibatch: the log-determinant of the Hamming
kernel of the binary activation codes. It needs a forward pass per design (torch), so a NASWOT search
screens fewer designs. With images from a dataset folder it sees real inputs; random inputs make it a
weaker signal, and the result says so.
"""

from __future__ import annotations

from pathlib import Path

from ..design.cost import Cost
from ..design.spec import Design
from ..errors import UserError

OBJECTIVES = ("params", "macs", "naswot")
NASWOT_BATCH = 16
RANDOM_INPUT_NOTE = "NASWOT on random inputs (no dataset folder given): a weaker signal than real images"


def check_objective(name: str) -> str:
    if name not in OBJECTIVES:
        raise UserError(f"unknown objective {name!r}; choose one of: {', '.join(OBJECTIVES)}")
    return name


class NaswotScorer:
    """Scores designs on one fixed minibatch (seeded), caching by network hash."""

    def __init__(self, input_size: int, data_folder: str | Path | None = None, seed: int = 0):
        self.input_size = input_size
        self.seed = seed
        self.note = RANDOM_INPUT_NOTE
        self.images = self._batch(data_folder)
        self.cache: dict[str, float] = {}

    def _batch(self, data_folder):
        import torch

        if data_folder is None:
            g = torch.Generator().manual_seed(self.seed)
            return torch.randn(NASWOT_BATCH, 3, self.input_size, self.input_size, generator=g)
        from .images import minibatch  # its own small reader: no labels, no training pipeline needed

        images, self.note = minibatch(data_folder, self.input_size, NASWOT_BATCH, self.seed)
        return images

    def score(self, design: Design) -> float:
        h = design.network_hash()
        if h not in self.cache:
            self.cache[h] = self._score(design)
        return self.cache[h]

    def _score(self, design: Design) -> float:
        import torch

        from ..model.build import build_model

        torch.manual_seed(self.seed)  # the same untrained weights for the same design, every time
        model = build_model(design).train()  # batch statistics: BN normalizes the untrained activations
        codes = torch.zeros(self.images.shape[0], self.images.shape[0], dtype=torch.float64)

        def hook(_module, _inputs, output):
            active = (output.detach().flatten(1) > 0).double()
            codes.add_(active @ active.T + (1 - active) @ (1 - active).T)

        handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, torch.nn.ReLU6)]
        try:
            with torch.no_grad():
                model(self.images)
        finally:
            for handle in handles:
                handle.remove()
        sign, logdet = torch.linalg.slogdet(codes)
        return float(logdet) if sign > 0 else float("-inf")


def objective_value(name: str, design: Design, cost: Cost, scorer: NaswotScorer | None) -> float:
    if name == "params":
        return float(cost.params)
    if name == "macs":
        return float(cost.macs)
    assert scorer is not None, "the naswot objective needs a scorer"
    return scorer.score(design)
