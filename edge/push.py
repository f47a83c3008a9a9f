"""The push directory of the edge variants: filled beside `edge/<version>/`, then swapped in whole."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable

from common import artifact_io
from preprocessing.asset_files import LABELS_FILE

# Files every component that pushes writes alike, owned by none of them: kept while any variant is.
_SHARED = frozenset({LABELS_FILE})


def _everything(name: str) -> bool:
    return True


def student_file(name: str) -> bool:
    """The files StudentExport owns in `edge/<version>/`: every `student*` file and `web/` (the student's page)."""
    return name.startswith("student") or name == "web"


def teacher_file(name: str) -> bool:
    """The files EdgeExport owns in `edge/<version>/`: the others."""
    return not student_file(name)


def owned_digest(target: str | os.PathLike, owns: Callable[[str], bool]) -> str:
    """SHA-256 over the names and bytes of the files `owns` claims in `target` ("" when there are none).

    A component records it after its push; a later run whose component came from the cache compares
    it with the directory to see whether another run's push replaced its files (runner/repush.py).
    """
    target = os.fspath(target).rstrip("/")
    gfile = artifact_io.gfile()
    if not gfile.isdir(target):
        return ""
    files = [name for name in _files_under(target) if owns(name.split("/", 1)[0])]
    if not files:
        return ""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(
            name.encode() + b"\0" + hashlib.sha256(artifact_io.read_bytes(artifact_io.join(target, name))).digest()
        )
    return digest.hexdigest()


def _files_under(root: str) -> list[str]:
    """Every file under `root`, relative to it (`web/app.js`).

    Each is checked to exist: TF's ram:// filesystem lists by key prefix, so a folder `wasm`
    beside a file `wasm-utils.js` also "holds" a file `-utils.js`.
    """
    gfile = artifact_io.gfile()
    found = []
    for directory, _, names in gfile.walk(root):
        relative = directory.rstrip("/")[len(root) :].lstrip("/")
        for name in names:
            path = artifact_io.join(relative, name) if relative else name
            if not gfile.isdir(artifact_io.join(root, path)) and gfile.exists(artifact_io.join(root, path)):
                found.append(path)
    return found


class PushDir:
    """What `edge/<version>/` will hold once the gate has spoken on every variant.

    Variants that pass are written to a hidden sibling, `.<version>.incoming`; `commit` swaps that
    tree in for `target`, so after every EdgeExport the directory holds exactly
    the variants its report marks pushed: a rerun with a stricter gate removes
    what the earlier run pushed, and a run that stops midway leaves the last
    complete set in place.

    Two components push into the same directory (EdgeExport the teacher's variants,
    StudentExport the student's), each replacing only the files it `owns`: the others'
    are carried into the new tree before the swap. The pipeline runs StudentExport after
    EdgeExport, so the two never swap at once.

    Args:
      target: `runs/NAME/edge/<version>` (any tf.io.gfile filesystem).
      owns: Which file names this component replaces; default all of them.
    """

    def __init__(self, target: str | os.PathLike, owns: Callable[[str], bool] = _everything):
        self.target = os.fspath(target).rstrip("/")
        self._owns = owns
        self._staged = artifact_io.beside(self.target, "incoming")
        # A swap killed midway is finished first (its tree is complete); only then is a tree that a run
        # killed before committing left behind thrown away, and the others' files carried from a whole set.
        artifact_io.recover_dir(self._staged, self.target)
        artifact_io.remove_tree(self._staged)
        self._abandoned = False

    def digest(self) -> str:
        """`owned_digest` of this component's files in `target`, as committed."""
        return owned_digest(self.target, self._owns)

    def path(self, name: str) -> str:
        """Where `name` will be once committed (what the report names)."""
        return artifact_io.join(self.target, name)

    def put_bytes(self, name: str, data: bytes) -> None:
        artifact_io.write_bytes(artifact_io.join(self._staged, name), data)

    def put_text(self, name: str, text: str) -> None:
        artifact_io.write_text(artifact_io.join(self._staged, name), text)

    def abandon(self) -> None:
        """Drops what was written: `commit` then leaves `target` exactly as it was."""
        artifact_io.remove_tree(self._staged)
        self._abandoned = True

    def commit(self) -> None:
        """Replaces this component's files in `target` with what was written; keeps the others'.

        The directory is removed when no variant is left in it.
        """
        if self._abandoned:
            return
        gfile = artifact_io.gfile()
        staged = {n.rstrip("/") for n in gfile.listdir(self._staged)} if gfile.isdir(self._staged) else set()
        if gfile.isdir(self.target):
            for name in gfile.listdir(self.target):
                name = name.rstrip("/")
                if name not in staged and (name in _SHARED or not self._owns(name)):
                    self._carry(name)
                    staged.add(name)
        if staged and staged <= _SHARED:
            artifact_io.remove_tree(self._staged)  # labels alone serve nothing
        artifact_io.replace_dir(self._staged, self.target)

    def _carry(self, name: str) -> None:
        """Copies another component's file (or folder) from `target` into the tree being staged."""
        source = artifact_io.join(self.target, name)
        if not artifact_io.gfile().isdir(source):
            self.put_bytes(name, artifact_io.read_bytes(source))
            return
        for relative in _files_under(source):
            self.put_bytes(artifact_io.join(name, relative), artifact_io.read_bytes(artifact_io.join(source, relative)))
