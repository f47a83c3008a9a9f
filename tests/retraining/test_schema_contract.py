"""The schema as a contract: tightened from an inferred schema, and its anomalies one line each."""

import pandas as pd
import pytest

from retraining import schema_contract


def _stats(frame):
    import tensorflow_data_validation as tfdv

    return tfdv.generate_statistics_from_dataframe(frame)


def _inferred(frame):
    import tensorflow_data_validation as tfdv

    return tfdv.infer_schema(_stats(frame), infer_feature_shape=False)


def _anomalies(schema, frame):
    import tensorflow_data_validation as tfdv

    return tfdv.validate_statistics(_stats(frame), schema)


TRAINED = pd.DataFrame({"text": [f"text {i}" for i in range(40)], "label": [i % 2 for i in range(40)]})


def test_the_contract_holds_the_label_domain_and_presence():
    contract = schema_contract.contract(_inferred(TRAINED), "text", "label", ["0", "1"])
    features = {f.name: f for f in contract.feature}
    assert (features["label"].int_domain.min, features["label"].int_domain.max) == (0, 1)
    assert features["label"].presence.min_fraction == 1.0
    assert features["text"].presence.min_fraction == schema_contract.TEXT_MIN_PRESENCE
    assert not _anomalies(contract, TRAINED).anomaly_info


def test_a_new_label_value_is_one_line_naming_the_column_and_what_to_do():
    contract = schema_contract.contract(_inferred(TRAINED), "text", "label", ["0", "1"])
    new_label = TRAINED.assign(label=[i % 3 for i in range(40)])
    (line,) = schema_contract.anomaly_lines(_anomalies(contract, new_label))
    assert line.startswith("column 'label': ") and "update the reviewed schema file (data.schema)" in line


def test_string_labels_get_a_string_domain_and_an_unknown_class_is_an_anomaly():
    frame = TRAINED.assign(label=["pos" if i % 2 else "neg" for i in range(40)])
    contract = schema_contract.contract(_inferred(frame), "text", "label", ["neg", "pos"])
    (domain,) = [
        d
        for d in contract.string_domain
        if d.name == contract.feature[[f.name for f in contract.feature].index("label")].domain
    ]
    assert list(domain.value) == ["neg", "pos"]
    (line,) = schema_contract.anomaly_lines(_anomalies(contract, frame.assign(label=["neutral"] * 40)))
    assert "'label'" in line


def test_a_column_of_empty_texts_breaks_the_contract():
    contract = schema_contract.contract(_inferred(TRAINED), "text", "label", ["0", "1"])
    empty = TRAINED.assign(text=[None] * 40)
    lines = schema_contract.anomaly_lines(_anomalies(contract, empty))
    assert any(line.startswith("column 'text': ") for line in lines), lines


def test_the_written_contract_reads_back_with_its_review_header(tmp_path):
    import tensorflow_data_validation as tfdv

    path = tmp_path / "schema.pbtxt"
    schema_contract.write(
        schema_contract.contract(_inferred(TRAINED), "text", "label", ["0", "1"]), str(path), ["a", ""]
    )
    assert path.read_text().startswith("# a\n#\n")
    assert tfdv.load_schema_text(str(path)) == schema_contract.contract(_inferred(TRAINED), "text", "label", ["0", "1"])
    with pytest.raises(ValueError, match="no column 'body'"):
        schema_contract.contract(_inferred(TRAINED), "body", "label", ["0", "1"])
