"""The search space around a starting design, and the one-step mutations that walk it.

Ranges are derived from the starting design (widths up to twice its widest stage, a few more blocks per stage,
the kernels the spec allows), so a search from SM_V2 stays MobileNet-shaped. A stride mutation swaps strides
between two stages, which keeps the total stride and therefore the final feature-map size: every mutation
yields a design the validator accepts at the same input size, or nothing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from ..design.spec import KERNELS, Design, Stage, parse_design
from ..errors import DesignError, UserError

FIELDS = ("t", "c", "n", "s", "kernel", "skip", "stages", "last_conv")
T_CHOICES = (1, 2, 3, 4, 6, 8)
WIDTH_STEP = 8
MAX_BLOCKS_PER_STAGE = 6


@dataclass(frozen=True)
class SearchSpace:
    fields: tuple[str, ...]
    t_choices: tuple[int, ...]
    c_max: int
    n_max: int
    kernels: tuple[int, ...]
    min_stages: int
    max_stages: int
    last_conv_choices: tuple[int, ...]

    @classmethod
    def around(cls, start: Design, fields: tuple[str, ...] | list[str] | None = None) -> SearchSpace:
        chosen = tuple(FIELDS if fields is None else fields)
        unknown = [f for f in chosen if f not in FIELDS]
        if unknown or not chosen:
            raise UserError(
                f"search fields must be some of {', '.join(FIELDS)}; got {', '.join(map(str, unknown)) or 'none'}"
            )
        widest = max(s.c for s in start.stages)
        n_stages = len(start.stages)
        return cls(
            fields=chosen,
            t_choices=tuple(sorted(set(T_CHOICES) | {s.t for s in start.stages})),
            c_max=max(2 * widest, 64),
            n_max=max(MAX_BLOCKS_PER_STAGE, max(s.n for s in start.stages)),
            kernels=KERNELS,
            min_stages=max(2, n_stages - 2),
            max_stages=n_stages + 2,
            last_conv_choices=tuple(sorted({0, start.last_conv, 1280})),
        )

    def describe(self) -> dict:
        return {
            "fields": list(self.fields),
            "t": list(self.t_choices),
            "c": [WIDTH_STEP, self.c_max],
            "n": [1, self.n_max],
            "kernel": list(self.kernels),
            "stages": [self.min_stages, self.max_stages],
            "last_conv": list(self.last_conv_choices),
        }


def _round_width(c: float, c_max: int) -> int:
    return int(min(c_max, max(WIDTH_STEP, round(c / WIDTH_STEP) * WIDTH_STEP)))


def _mutate_stages(stages: list[Stage], field: str, space: SearchSpace, rng: random.Random) -> list[Stage] | None:
    i = rng.randrange(len(stages))
    s = stages[i]
    if field == "t":
        options = [t for t in space.t_choices if t != s.t]
        stages[i] = replace(s, t=rng.choice(options))
    elif field == "c":
        factor = rng.choice((0.5, 0.75, 0.875, 1.125, 1.25, 1.5, 2.0))
        c = _round_width(s.c * factor, space.c_max)
        if c == s.c:
            return None
        stages[i] = replace(s, c=c)
    elif field == "n":
        n = s.n + rng.choice((-1, 1))
        if not 1 <= n <= space.n_max:
            return None
        stages[i] = replace(s, n=n)
    elif field == "s":
        others = [j for j, o in enumerate(stages) if o.s != s.s]
        if not others:
            return None
        j = rng.choice(others)
        stages[i], stages[j] = replace(s, s=stages[j].s), replace(stages[j], s=s.s)
    elif field == "kernel":
        stages[i] = replace(s, kernel=rng.choice([k for k in space.kernels if k != s.kernel]))
    elif field == "skip":
        stages[i] = replace(s, skip=not s.skip)
    elif field == "stages":
        if rng.random() < 0.5 and len(stages) > space.min_stages:
            removable = [j for j, o in enumerate(stages) if o.s == 1]
            if not removable:
                return None
            del stages[rng.choice(removable)]
        elif len(stages) < space.max_stages:
            stages.insert(i + 1, replace(s, s=1, n=1))
        else:
            return None
    return stages


def mutate(design: Design, space: SearchSpace, rng: random.Random, name: str) -> Design | None:
    """One random step in the space; None when the step leads nowhere valid (the caller draws again)."""
    field = rng.choice(space.fields)
    raw = design.to_dict()
    raw["name"] = name
    if field == "last_conv":
        options = [c for c in space.last_conv_choices if c != design.last_conv]
        if not options:
            return None
        raw["last_conv"] = rng.choice(options)
    else:
        stages = _mutate_stages(list(design.stages), field, space, rng)
        if stages is None:
            return None
        raw["stages"] = [
            {"t": s.t, "c": s.c, "n": s.n, "s": s.s, "skip": s.skip, "out_act": s.out_act, "kernel": s.kernel}
            for s in stages
        ]
    for key in ("paper", "notes", "source", "description"):
        raw.pop(key, None)  # a searched design is not the paper's model
    try:
        return parse_design(raw)
    except DesignError:
        return None
