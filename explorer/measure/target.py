"""Where a network is timed: backend, device, threads and batch, as one typed value.

The quadruple used to travel loose through the CLI, the pages and the worker; here it is checked once
(explorer.options' ranges) and its thread default is resolved once: all physical cores, said so in the
protocol line.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..options import BACKEND, BATCH, DEVICE, THREADS


@dataclass(frozen=True)
class Target:
    backend: str = "torch"
    device: str = "cpu"
    threads: int | None = None  # None: all physical cores (resolved by `resolved()`)
    batch: int = 1

    def check(self) -> Target:
        """The options' ranges (one-line UserError naming the value); returns self for chaining."""
        BACKEND.check(self.backend)
        DEVICE.check(self.device)
        THREADS.check(self.threads)
        BATCH.check(self.batch)
        return self

    def resolved(self) -> Target:
        """The same target with its thread count chosen (all physical cores when not given)."""
        if self.threads is not None:
            return self
        return dataclasses.replace(self, threads=resolve_threads(None)[0])

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Target:
        return cls(**{f.name: d[f.name] for f in dataclasses.fields(cls) if f.name in d})

    def describe(self) -> str:
        threads = "all physical cores" if self.threads is None else f"{self.threads} threads"
        return f"{self.backend} on {self.device}, {threads}, batch {self.batch}"


def resolve_threads(threads: int | None) -> tuple[int, str]:
    """The thread count to use and how it was chosen, for the protocol line (the one place that decides)."""
    from .hostinfo import physical_cores, usable_logical_cores

    if threads is None:
        n = physical_cores()
        return n, f"{n} threads (default: all {n} physical cores)"
    n = THREADS.check(threads)
    usable = usable_logical_cores()
    extra = f", more than the {usable} usable cores: oversubscribed" if n > usable else ""
    return n, f"{n} threads (requested{extra})"
