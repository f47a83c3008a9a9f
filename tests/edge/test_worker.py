"""Child-process builds: a failing variant costs its row, not the run."""

from tests.edge.conftest import L


def test_worker_reports_each_variant_that_cannot_be_built(built, tmp_path):
    """A broken input costs each variant its row with the reason, not the run."""
    from edge import worker

    job, out = tmp_path / "job", tmp_path / "out"
    out.mkdir()
    worker.write_job(
        job,
        str(tmp_path / "no-saved-model"),
        built["assets"].vocab,
        True,
        L,
        ["0", "1"],
        built["representative"],
        built["eval"],
        out,
        "mean",
        True,
    )
    outcomes = worker.run_all(job, ["float32", "int8"], workers=2)
    for name in ("float32", "int8"):
        assert outcomes[name]["reason"].startswith("conversion failed: "), outcomes[name]
        assert "no-saved-model" in outcomes[name]["reason"]
        assert not (out / f"{name}.tflite").exists()

    (job / "data.npz").write_bytes(b"not an npz archive")
    died = worker.run_all(job, ["float16"], workers=1)["float16"]["reason"]
    assert died.startswith("the variant's process failed (exit 1): "), died
