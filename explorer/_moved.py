"""Old import paths (before the package split of version 0.2) keep working for a while, with a DeprecationWarning.

`import explorer.spec` returns the very module `explorer.design.spec`, so objects and isinstance checks agree
whichever path a user's script imports. Nothing inside the project uses these names (a test checks).
Two names now belong to packages: `explorer.cli` (its `main` is still there) and `explorer.train` (the loop is
explorer.train.loop).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

MOVED = {
    "explorer.spec": "explorer.design.spec",
    "explorer.plan": "explorer.design.plan",
    "explorer.cost": "explorer.design.cost",
    "explorer.presets": "explorer.design.presets",
    "explorer.limits": "explorer.design.limits",
    "explorer.network": "explorer.model.network",
    "explorer.build": "explorer.model.build",
    "explorer.crosscheck": "explorer.model.crosscheck",
    "explorer.timing": "explorer.measure.timing",
    "explorer.quality": "explorer.measure.quality",
    "explorer.latency": "explorer.measure.latency",
    "explorer.latency_ort": "explorer.measure.latency_ort",
    "explorer.layer_latency": "explorer.measure.layer_latency",
    "explorer.hostinfo": "explorer.measure.hostinfo",
    "explorer.hostlock": "explorer.measure.hostlock",
    "explorer.allocator": "explorer.measure.allocator",
    "explorer.measure_process": "explorer.measure.process",
    "explorer.export_io": "explorer.export.weights",
    "explorer.export_onnx": "explorer.export.onnx_file",
    "explorer.export_py": "explorer.export.python_file",
    "explorer.data": "explorer.train.data",
    "explorer.train_config": "explorer.train.config",
    "explorer.checkpoint": "explorer.train.checkpoint",
    "explorer.ddp": "explorer.train.ddp",
    "explorer.results": "explorer.store.results",
    "explorer.charts": "explorer.viz.charts",
    "explorer.charts_labels": "explorer.viz.labels",
    "explorer.charts_layers": "explorer.viz.layer_split",
    "explorer.charts_scatter": "explorer.viz.scatter",
    "explorer.charts_search": "explorer.viz.search_chart",
    "explorer.charts_style": "explorer.viz.style",
    "explorer.chartdata": "explorer.viz.chartdata",
    "explorer.diagram": "explorer.viz.diagram",
    "explorer.compare": "explorer.design.align",
    "explorer.table": "explorer.ui.table",
    "explorer.predict.roofline_chart": "explorer.viz.roofline",
    "explorer.cli_bench": "explorer.cli.bench",
    "explorer.cli_calibrate": "explorer.cli.calibrate",
    "explorer.cli_export": "explorer.cli.export",
    "explorer.cli_predict": "explorer.cli.predict",
    "explorer.cli_search": "explorer.cli.search",
    "explorer.cli_train": "explorer.cli.train",
    "explorer.jobs": "explorer.ui.jobs",
}


class _MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path=None, target=None):
        if fullname not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec):
        new = MOVED[spec.name]
        warnings.warn(f"{spec.name} is now {new}; the old path will go in a later version", DeprecationWarning, 2)
        return importlib.import_module(new)

    def exec_module(self, module):
        pass  # the module was already executed under its new name


def install() -> None:
    if not any(isinstance(f, _MovedModuleFinder) for f in sys.meta_path):
        sys.meta_path.append(_MovedModuleFinder())
