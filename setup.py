"""edgeline: a TFX pipeline from labelled raw text to server and edge models."""

import setuptools

# The project's top-level packages (ARCHITECTURE.md has one section each).
TOP_LEVEL = [
    "common",
    "configs",
    "preprocessing",
    "retraining",
    "trainers",
    "edge",
    "components",
    "pipeline",
    "serving",
    "results",
    "runner",
    "kubeflow",
    "cli",
]

setuptools.setup(
    name="edgeline",
    version="0.1.0",
    description="TFX pipeline: labelled raw text to SavedModel and TFLite, tokenization in the graph.",
    python_requires=">=3.10,<3.11",
    # Each top-level package with its subpackages (edge.student): `include` matches names exactly.
    packages=setuptools.find_packages(include=[name + tail for name in TOP_LEVEL for tail in ("", ".*")]),
    package_data={"configs": ["*.yaml"], "results": ["*.html"], "edge": ["web_page/*"]},
    # Dependencies are installed from requirements.txt + constraints.txt by
    # `make venv` (TFX needs a pinned, two-step install; see the README).
    install_requires=[],
    entry_points={"console_scripts": ["edgeline=cli.edgeline:main"]},
)
