"""The two ways every command names a design: --preset NAME or --spec FILE (exactly one of them)."""

from __future__ import annotations

import argparse

from ..design.spec import Design
from ..errors import UserError


def add_design_args(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--preset", metavar="NAME", help="a preset name, e.g. SM_V2 (see `presets`)")
    g.add_argument("--spec", metavar="FILE", help="a design JSON file")


def design_from_args(args: argparse.Namespace) -> Design:
    from ..design.presets import get_preset
    from ..design.spec import load_design_file

    if args.preset is not None:
        if not args.preset.strip():
            raise UserError("--preset must name a preset (see `python -m explorer presets`), got an empty name")
        return get_preset(args.preset)
    if not args.spec.strip():
        raise UserError("--spec must name a design JSON file, got an empty path")
    return load_design_file(args.spec)
