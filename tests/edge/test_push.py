"""edge/<version>/ across a crash: a push killed at any write, then retried, serves a whole old or whole new set."""

import os
import time

import pytest

from common import artifact_io
from edge import push
from edge.push import PushDir, student_file

# What two components pushed before (EdgeExport's teacher, StudentExport's student and page).
OLD = {
    "float32.tflite": b"old teacher",
    "labels.txt": b"0\n1\n",
    "student.tflite": b"old student",
    "web/index.html": b"old page",
    "web/litert/wasm/runtime.wasm": b"old wasm",
}
# StudentExport's next push: its own files replaced, the teacher's carried over.
NEW_STUDENT = {
    "student.tflite": b"new student",
    "student_micro.tflite": b"new micro",
    "labels.txt": b"0\n1\n",
    "web/index.html": b"new page",
    "web/litert/wasm/runtime.wasm": b"new wasm",
}
NEW = {"float32.tflite": b"old teacher", **NEW_STUDENT}


class _Killed(BaseException):
    """The pod dying: not an Exception, so nothing on the way up handles it."""


def _tree(target: str) -> dict[str, bytes]:
    if not artifact_io.gfile().isdir(target):
        return {}
    return {name: artifact_io.read_bytes(artifact_io.join(target, name)) for name in push._files_under(target)}


def _push(target: str, files: dict[str, bytes], owns=student_file) -> None:
    pushing = PushDir(target, owns=owns)
    for name, data in files.items():
        pushing.put_bytes(name, data)
    pushing.commit()


def _push_killed_after(monkeypatch, target: str, writes: int) -> bool:
    """StudentExport's push of NEW_STUDENT with every object write after the first `writes` of the commit failing.

    Returns:
      Whether the kill happened (False: the commit needed no more than `writes` writes).
    """
    pushing = PushDir(target, owns=student_file)
    for name, data in NEW_STUDENT.items():
        pushing.put_bytes(name, data)
    write = artifact_io.write_bytes
    done = []

    def dying_write(uri, data):
        if len(done) == writes:
            raise _Killed(uri)
        done.append(uri)
        write(uri, data)

    with monkeypatch.context() as patch:
        patch.setattr(artifact_io, "write_bytes", dying_write)
        try:
            pushing.commit()
        except _Killed:
            return True
    return False


@pytest.mark.parametrize("root", ["ram", "local"])
def test_a_push_killed_at_any_write_then_retried_serves_a_whole_set(root, tmp_path, monkeypatch):
    """TF's ram:// is an object store here: a directory is moved by copying it object by object.

    The test kills StudentExport's commit after 0, 1, 2, ... object writes until one commit gets
    through. After each kill, `edge/<version>/` holds the old set untouched, or is marked as being
    replaced; the next push's first step (recovery) leaves a whole set, old or new, and the retry
    serves exactly the new one, with nothing left beside it.
    """
    base = f"ram://test-push-{os.getpid()}-{time.monotonic_ns()}" if root == "ram" else str(tmp_path)
    kills = 0
    for writes in range(100):
        # Same-width names: TF's ram:// deletes by prefix, so removing `v1` would take `v10` with it.
        target = artifact_io.join(base, "edge", f"v{writes:03d}")
        _push(target, OLD, owns=push._everything)
        assert _tree(target) == OLD
        if not _push_killed_after(monkeypatch, target, writes):
            assert _tree(target) == NEW
            break
        kills += 1
        after_kill = _tree(target)
        marked = artifact_io.gfile().exists(artifact_io.beside(target, "swap"))  # the swap's journal
        assert after_kill == OLD or marked, f"killed after {writes} writes, unmarked: {sorted(after_kill)}"

        PushDir(target, owns=student_file)  # what a retry does first
        assert _tree(target) in (OLD, NEW), f"killed after {writes} writes, then recovered: {sorted(_tree(target))}"
        assert not artifact_io.gfile().exists(artifact_io.beside(target, "swap"))

        _push(target, NEW_STUDENT)  # the retry: StudentExport again, the same student
        assert _tree(target) == NEW, f"killed after {writes} writes, then retried"
        left = [n for n in artifact_io.gfile().listdir(artifact_io.join(base, "edge")) if n.startswith(".")]
        assert left == [], f"killed after {writes} writes, then retried: {left} left beside the set"
    assert kills >= (len(NEW_STUDENT) if root == "ram" else 1), kills


def test_a_local_swap_killed_between_its_renames_is_finished_by_the_next_push(tmp_path):
    """The journal written, the old tree moved aside, the new one not yet in place: the next push installs it."""
    target = artifact_io.join(str(tmp_path), "edge", "7")
    staged, old = artifact_io.beside(target, "incoming"), artifact_io.beside(target, "old")
    for name, data in OLD.items():
        artifact_io.write_bytes(artifact_io.join(old, name), data)
    for name, data in NEW.items():
        artifact_io.write_bytes(artifact_io.join(staged, name), data)
    artifact_io.write_text(artifact_io.beside(target, "swap"), '{"staged": true}')
    assert artifact_io.swapping(target) and _tree(target) == {}

    PushDir(target, owns=student_file)
    assert _tree(target) == NEW and not artifact_io.swapping(target)
    assert sorted(os.listdir(tmp_path / "edge")) == ["7"]
