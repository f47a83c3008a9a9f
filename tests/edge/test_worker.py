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
    outcomes = worker.run_all(job, ["float32", "int8", "edgetpu"], workers=2)
    for name in ("float32", "int8", "edgetpu"):
        assert outcomes[name]["reason"].startswith("conversion failed: "), outcomes[name]
        assert "no-saved-model" in outcomes[name]["reason"]
        assert not (out / f"{name}.tflite").exists()

    (job / "data.npz").write_bytes(b"not an npz archive")
    died = worker.run_all(job, ["float16"], workers=1)["float16"]["reason"]
    assert died.startswith("the variant's process failed (exit 1): "), died
    # A child building int8 and edgetpu that dies before int8 is done never reached edgetpu.
    fresh = tmp_path / "fresh-job"  # no outcome files from the runs above
    fresh.mkdir()
    for name in ("job.json", "data.npz"):
        (fresh / name).write_bytes((job / name).read_bytes())
    both = worker.run_all(fresh, ["int8", "edgetpu"], workers=1)
    assert both["int8"]["reason"].startswith("the variant's process failed (exit 1): "), both
    assert both["edgetpu"]["reason"] == "not built: the child process stopped while building int8", both


def test_edgetpu_is_built_in_int8s_child_from_the_same_rewrite():
    from edge import worker

    assert worker.child_jobs(["float32", "edgetpu", "text", "int8"]) == [("int8", "edgetpu"), ("text",), ("float32",)]
    assert worker.child_jobs(["edgetpu", "float16"]) == [("edgetpu",), ("float16",)]
