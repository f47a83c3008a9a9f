"""Each component's parameters hold only what it reads, so a change re-runs only the components that read it."""

import json

from configs import apply_overrides, load_config
from pipeline import pipeline as pipeline_lib

CONFIG = load_config("configs/tiny.yaml")


def _parameters(config, node_id: str) -> dict:
    built = pipeline_lib.create_pipeline(
        config, "edgeline", "/tmp/root", "/tmp/data", "*.csv", "/tmp/encoder", "/tmp/serving"
    )
    (node,) = [c for c in built.components if c.id == node_id]
    return dict(node.exec_properties)


def test_a_gate_only_change_leaves_distill_s_inputs_as_they_were():
    gated = apply_overrides(CONFIG, ["student.max_accuracy_drop=4"])
    assert _parameters(gated, "Distill") == _parameters(CONFIG, "Distill")
    assert "max_accuracy_drop" not in json.loads(_parameters(CONFIG, "Distill")["student"])
    # StudentExport reads the gate: it runs again, on the cached students.
    exported = json.loads(_parameters(gated, "StudentExport")["config"])
    assert exported["student"]["max_accuracy_drop"] == 4.0


def test_a_training_setting_of_the_student_changes_distill_s_inputs():
    hotter = apply_overrides(CONFIG, ["student.temperature=3"])
    assert json.loads(_parameters(hotter, "Distill")["student"])["temperature"] == 3.0


def test_drift_thresholds_reach_drift_check_only():
    stricter = apply_overrides(CONFIG, ["drift.max_label_linf=0.05", "drift.action=stop"])
    for node_id in ("Transform", "Trainer", "Distill", "EdgeExport"):
        assert _parameters(stricter, node_id) == _parameters(CONFIG, node_id), node_id
    assert json.loads(_parameters(stricter, "DriftCheck")["config"])["drift"]["action"] == "stop"
