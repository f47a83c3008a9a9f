"""DriftCheck: this run's train split against the data the serving model learned from, before Trainer."""

import json

from tfx import v1 as tfx
from tfx.types import artifact_utils

from preprocessing.csv_reader import DataError


class DataDrift(tfx.dsl.Artifact):
    """`drift.json` (every figure against its threshold) and this run's data profile."""

    # Importable from this name on Kubeflow (see components/edge_export.py's EdgeModels).
    TYPE_NAME = "components.DataDrift"


class DriftError(DataError):
    """`drift.action: stop` and a figure above its threshold: the run stops before Trainer."""


@tfx.dsl.components.component
def DriftCheck(  # noqa: N802  (TFX names components like classes)
    transformed_examples: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Examples],
    transform_graph: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.TransformGraph],
    drift: tfx.dsl.components.OutputArtifact[DataDrift],
    config: tfx.dsl.components.Parameter[str],
    encoder_dir: tfx.dsl.components.Parameter[str],
    serving_model: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Model] = None,
) -> None:
    """Profiles this run's train split and compares it with the serving model's training data.

    Args:
      transformed_examples: Transform's output (the train split is profiled).
      transform_graph: Transform's graph (the class names, in label-id order).
      drift: Output: `drift.json` and this run's profile.
      config: JSON of the `data`, `tokenizer` and `drift` config sections.
      encoder_dir: The encoder Transform read its vocab from (the [UNK] id).
      serving_model: The model serving now (components/serving_model.py); absent on a first run.

    Raises:
      DriftError: `drift.action` is stop and a figure is above its threshold (one line each).
    """
    import tensorflow_transform as tft
    from tfx.utils import path_utils

    from common import artifact_io
    from configs import DriftConfig, features
    from edge import examples
    from preprocessing import tokenizer as tok
    from retraining import drift as drift_lib
    from retraining import model_record, profile
    from trainers import run

    settings = json.loads(config)
    drift_config = DriftConfig(**settings["drift"])
    length = int(settings["tokenizer"]["max_seq_length"])
    tft_output = tft.TFTransformOutput(transform_graph.uri)
    vocab = [v.decode() if isinstance(v, bytes) else v for v in tft_output.vocabulary_by_name(features.LABEL_VOCAB)]
    label_spec = tft_output.raw_feature_spec()[settings["data"]["label_column"]]
    names = run.class_names_from_vocab(vocab, label_spec.dtype.is_integer)
    assets = tok.assets_from_encoder(encoder_dir)
    files = examples.split_files(artifact_utils.get_split_uri([transformed_examples], "train"))
    current = profile.profile_split(files, names, assets.vocab.index(tok.UNK), length)
    current.save(drift.uri)
    saved_model = path_utils.serving_model_path(serving_model.uri) if serving_model is not None else ""
    found = model_record.read(saved_model) if saved_model else None
    if found is None:
        why = "no model is serving yet" if not saved_model else "the serving model carries no training profile"
        report = drift_lib.DriftReport(drift_config.action, saved_model, note=f"{why}: nothing to compare with")
    else:
        report = drift_lib.compare(current, found[1], drift_config, saved_model)
    artifact_io.write_text(artifact_io.join(drift.uri, drift_lib.REPORT_FILE), report.to_json() + "\n")
    drift.set_int_custom_property("drifted", len(report.drifted()))
    if drift_config.action == "stop" and report.drifted():
        raise DriftError("\n".join(report.stop_lines()))
