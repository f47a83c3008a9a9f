"""Artifact file I/O on any tf.io.gfile filesystem, and the one place that stages files in local temp dirs.

On Kubeflow every artifact URI is object storage (`gs://`, `s3://` with
tensorflow-io, HDFS); locally it is a path. `tf.io.gfile` (which TFX's
`fileio` wraps) reads and writes both, so edgeline's artifact code uses it or
the small wrappers below, never `open`, `pathlib`, `glob` or `os.path.exists`
(tests/test_file_apis.py checks that).

Some consumers need local files: a child process (the edge workers) cannot see
its parent's `ram://` files, `edgetpu_compiler` is a binary that knows only the
local disk, and the SavedModel export needs a scratch file to turn into its
`labels.txt` asset. For those, files are staged in a local temporary directory
(`local_dir`, `copy_in`, `local_path`) and results copied back to the artifact
(`copy_out`) here, explicitly, and nowhere else.

Lives in `common/`, below every other package and importing none, so that
`preprocessing/`, `trainers/` (the SavedModel export), `edge/`, `components/` and the
run readers can all import it without an arrow running backwards. TensorFlow is
imported on first use, so `configs/` stays free of TensorFlow and I/O.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import posixpath
import tempfile
from collections.abc import Iterator


def _gfile():
    # Imported on first use: modules that only join paths or stage local dirs load without TensorFlow.
    import tensorflow as tf

    return tf.io.gfile


def gfile():
    """`tf.io.gfile`, for listing, globbing and deleting artifact files on any filesystem."""
    return _gfile()


def glob(pattern: str | os.PathLike) -> list[str]:
    """The files matching `pattern` on any filesystem, sorted."""
    return sorted(_gfile().glob(os.fspath(pattern)))


def join(uri: str | os.PathLike, *parts: str) -> str:
    """`uri/part/...` for a local path or a `scheme://` URI (pathlib would fold `gs://` into `gs:/`)."""
    return posixpath.join(os.fspath(uri), *parts)


def sibling(uri: str | os.PathLike, name: str) -> str:
    """`name` beside `uri`: `gs://b/models/serving` -> `gs://b/models/edge`; `/runs/x/serving` -> `/runs/x/edge`.

    Raises:
      ValueError: `uri` is a bucket or filesystem root, which has nothing beside it.
    """
    scheme, sep, path = os.fspath(uri).rstrip("/").rpartition("://")
    parent = posixpath.dirname(path)
    if not parent or (sep and "/" not in path):
        raise ValueError(
            f"{os.fspath(uri)!r} is a bucket or filesystem root, so {name!r} cannot go beside it; "
            "use a folder inside the bucket, e.g. gs://BUCKET/edgeline/serving"
        )
    return f"{scheme}{sep}{posixpath.join(parent, name)}"


def read_bytes(uri: str | os.PathLike) -> bytes:
    """The whole file at `uri`."""
    with _gfile().GFile(os.fspath(uri), "rb") as f:
        return f.read()


def open_binary(uri: str | os.PathLike):
    """The file at `uri` opened for reading bytes in chunks (`read(n)`, `seek`), on any filesystem."""
    return _gfile().GFile(os.fspath(uri), "rb")


def read_text(uri: str | os.PathLike) -> str:
    """The whole file at `uri`, as UTF-8 text."""
    return read_bytes(uri).decode("utf-8")


def write_bytes(uri: str | os.PathLike, data: bytes) -> None:
    """Writes `data` to `uri`, creating its parent directories."""
    uri = os.fspath(uri)
    _gfile().makedirs(posixpath.dirname(uri))
    if _gfile().exists(uri):
        # TF's ram:// filesystem appends to an existing file opened "wb"; replacing it is right everywhere.
        _gfile().remove(uri)
    with _gfile().GFile(uri, "wb") as f:
        f.write(data)


def write_text(uri: str | os.PathLike, text: str) -> None:
    """Writes UTF-8 `text` to `uri`, creating its parent directories."""
    write_bytes(uri, text.encode("utf-8"))


def is_local(uri: str | os.PathLike) -> bool:
    """Whether `uri` is a path on this machine's disk (no `scheme://`, or `file://`)."""
    uri = os.fspath(uri)
    return "://" not in uri or uri.startswith("file://")


@contextlib.contextmanager
def local_dir(prefix: str = "edgeline-") -> Iterator[pathlib.Path]:
    """A fresh local temporary directory, deleted on exit (also after an error)."""
    with tempfile.TemporaryDirectory(prefix=prefix) as directory:
        yield pathlib.Path(directory)


def copy_in(uri: str | os.PathLike, local: str | os.PathLike) -> pathlib.Path:
    """Copies the file or directory tree at `uri` (any filesystem) to the local path `local`.

    Returns:
      `local`, as a Path.
    """
    uri, local = os.fspath(uri).rstrip("/"), pathlib.Path(local)
    if not _gfile().isdir(uri):
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(read_bytes(uri))
        return local
    for directory, _, files in _gfile().walk(uri):
        # gfile.walk yields `uri` itself first, then subdirectories as `uri/...`.
        target = local / posixpath.relpath(directory.rstrip("/"), uri) if directory.rstrip("/") != uri else local
        target.mkdir(parents=True, exist_ok=True)
        for name in files:
            (target / name).write_bytes(read_bytes(join(directory, name)))
    return local


def local_path(uri: str | os.PathLike, scratch: str | os.PathLike) -> str:
    """`uri` itself when it is on the local disk, else a local copy of it at `scratch`.

    Local runs (the common case) then pay no copy; remote artifacts are fetched once.
    """
    if is_local(uri):
        return os.fspath(uri).removeprefix("file://")
    return str(copy_in(uri, scratch))


def copy_out(local: str | os.PathLike, uri: str | os.PathLike) -> list[str]:
    """Copies every file under the local directory `local` to `uri` (any filesystem), overwriting.

    Returns:
      The URIs written, in sorted order.
    """
    local, uri = pathlib.Path(local), os.fspath(uri)
    written = []
    for path in sorted(p for p in local.rglob("*") if p.is_file()):
        target = join(uri, *path.relative_to(local).parts)
        write_bytes(target, path.read_bytes())
        written.append(target)
    return written


def beside(uri: str | os.PathLike, tag: str) -> str:
    """A hidden sibling of `uri` for a tree being swapped in or out: `dir/.name.tag`.

    Not `dir/name.tag`: TF's ram:// deletes by name prefix, so removing `name`
    would take `name.tag` with it.
    """
    uri = os.fspath(uri).rstrip("/")
    return join(posixpath.dirname(uri), f".{posixpath.basename(uri)}.{tag}")


def replace_dir(staged: str | os.PathLike, target: str | os.PathLike) -> None:
    """Makes the directory `target` hold exactly the tree at `staged` (nothing, if `staged` is absent).

    The new tree is written beside `target` first (`staged` must be complete when this is called),
    then swapped in. A journal file, `beside(target, "swap")`, is written before `target` is touched
    and removed once it holds the whole new tree: a process killed at any point leaves either the old
    tree with no journal, or a journal beside a complete `staged`, from which `recover_dir` (run by the
    next push to `target`) finishes the swap. So across a crash and a retry `target` ends up a whole old
    or a whole new tree, and the last complete set is never deleted.

    On a local disk each rename is atomic and readers see the old tree or the new one (for an
    instant between the two renames, neither). An object store has no rename of a directory (gs://
    copies object by object), so while the journal exists `target` may be missing or mixed:
    `swapping(target)` tells a reader so. A pointer file that readers follow would make every read
    atomic, but devices and TFX read `edge/<version>/NAME` directly; a journal keeps that layout.

    Args:
      staged: A directory written beside `target` (`beside(target, "incoming")`); it is moved.
      target: The directory to replace (any tf.io.gfile filesystem).
    """
    staged, target = os.fspath(staged).rstrip("/"), os.fspath(target).rstrip("/")
    # One object written whole: the point after which the new tree, not the old, is what `target` gets.
    write_text(_journal(target), json.dumps({"staged": bool(_gfile().exists(staged))}))
    _finish_swap(staged, target)


def recover_dir(staged: str | os.PathLike, target: str | os.PathLike) -> None:
    """Finishes a `replace_dir` that a killed process left half done, and removes what it left behind.

    With a journal, `staged` is complete (it was written first) and is swapped in; without one,
    `target` is whole and the old tree beside it (if any) is a leftover.
    """
    staged, target = os.fspath(staged).rstrip("/"), os.fspath(target).rstrip("/")
    if _gfile().exists(_journal(target)):
        _finish_swap(staged, target)
    else:
        remove_tree(beside(target, "old"))


def swapping(target: str | os.PathLike) -> bool:
    """Whether `target` is being replaced (or a process replacing it was killed): it may be incomplete."""
    return bool(_gfile().exists(_journal(os.fspath(target).rstrip("/"))))


def _journal(target: str) -> str:
    # A file beside, not inside, `target`: readers and digests of `target` see only its own files.
    return beside(target, "swap")


def _finish_swap(staged: str, target: str) -> None:
    """The swap after its journal is written; idempotent, so recovery just runs it again."""
    journal = _journal(target)
    has_staged = json.loads(read_text(journal))["staged"]
    old = beside(target, "old")
    if has_staged and _gfile().exists(staged):
        if is_local(target):
            remove_tree(old)
            if _gfile().exists(target):
                _gfile().rename(target, old)  # rename(2): atomic
            _gfile().rename(staged, target)
        else:
            # An object store has no directory to rename (gs:// renames object by object, and TF's ram://
            # moves only the directory entry, leaving its files behind): copy. `staged` stays until the
            # journal is gone, so a copy killed midway is simply made again.
            remove_tree(target)
            _copy_tree(staged, target)
    elif not has_staged:
        remove_tree(target)
    # A local rename already moved `staged`; on an object store it is complete and no longer needed.
    _gfile().remove(journal)
    remove_tree(staged)
    remove_tree(old)


def remove_tree(uri: str | os.PathLike) -> None:
    """Deletes the directory tree at `uri` if there is one."""
    if _gfile().exists(os.fspath(uri)):
        _gfile().rmtree(os.fspath(uri))


def _copy_tree(source: str, target: str) -> None:
    for directory, _, files in _gfile().walk(source):
        relative = posixpath.relpath(directory.rstrip("/"), source)
        into = target if relative == "." else join(target, relative)
        for name in files:
            path = join(directory, name)
            # TF's ram:// lists by key prefix: a folder `wasm` beside `wasm-utils.js` also "holds" `-utils.js`.
            if not _gfile().isdir(path) and _gfile().exists(path):
                write_bytes(join(into, name), read_bytes(path))
