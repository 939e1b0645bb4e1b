"""Packaging glue that pyproject.toml cannot express: the wheel carries the top-level presets/ folder (where users
and the README find the design files) as explorer/presets_data. Everything else is declared in pyproject.toml."""

from setuptools import find_namespace_packages, setup

setup(
    # Namespace discovery: explorer/ui/pages holds Streamlit page scripts and has no __init__.py.
    packages=[
        *find_namespace_packages(include=["explorer", "explorer.*"], exclude=["*.__pycache__"]),
        "explorer.presets_data",
    ],
    package_dir={"explorer.presets_data": "presets"},
    package_data={"explorer.train": ["imagenet100_wnids.txt"], "explorer.presets_data": ["*.json", "reference/*.json"]},
)
