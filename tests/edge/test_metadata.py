"""edgeline metadata in a .tflite round-trips and `predict` answers from it."""

from edge import metadata
from serving import predict
from tests.edge.conftest import L, model_of
from tests.test_trainer import STRINGS


def test_predict_answers_with_the_text_variant(built, tmp_path):
    info = {"variant": "text", "labels": ["0", "1"], "max_seq_length": L, "lower_case": True}
    path = tmp_path / "text.tflite"
    path.write_bytes(metadata.with_metadata(model_of(built, "text"), info, {"labels.txt": "0\n1\n"}))
    assert metadata.read_metadata(path) == (info, {"labels.txt": "0\n1\n"})
    rows = predict.predict_texts(path, STRINGS[:3])
    assert [r["text"] for r in rows] == STRINGS[:3]
    assert all(r["label"] == max(r["probabilities"], key=r["probabilities"].get) for r in rows)
