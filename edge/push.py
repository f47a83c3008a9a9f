"""The push directory of the edge variants: filled beside `edge/<version>/`, then swapped in whole."""

from __future__ import annotations

import os

from preprocessing import staging


class PushDir:
    """What `edge/<version>/` will hold once the gate has spoken on every variant.

    Variants that pass are written to a hidden sibling, `.<version>.incoming`; `commit` swaps that
    tree in for `target`, so after every EdgeExport the directory holds exactly
    the variants its report marks pushed: a rerun with a stricter gate removes
    what the earlier run pushed, and a run that stops midway leaves the last
    complete set in place.

    Args:
      target: `runs/NAME/edge/<version>` (any tf.io.gfile filesystem).
    """

    def __init__(self, target: str | os.PathLike):
        self.target = os.fspath(target).rstrip("/")
        self._staged = staging.beside(self.target, "incoming")
        staging.remove_tree(self._staged)  # left by a run that stopped before committing

    def path(self, name: str) -> str:
        """Where `name` will be once committed (what the report names)."""
        return staging.join(self.target, name)

    def put_bytes(self, name: str, data: bytes) -> None:
        staging.write_bytes(staging.join(self._staged, name), data)

    def put_text(self, name: str, text: str) -> None:
        staging.write_text(staging.join(self._staged, name), text)

    def commit(self) -> None:
        """Replaces `target` with what was written (removes it when nothing passed)."""
        staging.replace_dir(self._staged, self.target)
