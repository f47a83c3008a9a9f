"""The Edge TPU op report."""

import shutil

import pytest

from edge import edgetpu
from tests.edge.conftest import model_of


def test_edgetpu_report_flags_unsupported_ops(built):
    report = edgetpu.analyze(model_of(built, "edgetpu"))
    ops = {o["op"]: o for o in report["ops"]}
    # The embedding lookup (GATHER) and attention's BATCH_MATMUL are not on Coral's list.
    assert ops["GATHER"]["supported"] is False and ops["BATCH_MATMUL"]["supported"] is False
    assert ops["FULLY_CONNECTED"]["supported"] is True
    assert report["first_cpu_op"]["index"] == report["num_mapped_prefix"]
    assert report["num_mappable"] < report["num_ops"] == len(report["ops"])


def test_edgetpu_compiler_absence_is_reported(tmp_path):
    if shutil.which("edgetpu_compiler"):
        pytest.skip("edgetpu_compiler is installed here; this checks the report without it")
    assert edgetpu.compile_model(tmp_path / "m.tflite", tmp_path)["compiler"] == "not found"
