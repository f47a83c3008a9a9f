"""Distill: a TFX component that distils the blessed teacher into the small convolutional student.

A Python-function component like EdgeExport. Its one parameter is the `student`
config section less the gate (`student.max_accuracy_drop`, StudentExport's), so a
training setting re-runs Distill (and StudentExport after it) and nothing of the
teacher's, while a gate-only or teacher-only change leaves it cached. The logic is `edge.student.training`.
"""

import json

from tfx import v1 as tfx
from tfx.types.system_artifacts import Model as ModelSystemType

from configs import EdgelineConfig, features


class StudentModel(tfx.dsl.Artifact):
    """The quantization-aware student as a Keras SavedModel, with its remap, calibration rows and seed report.

    A type of its own (of system type Model) rather than TFX's `Model`: the baseline
    resolvers look up `Model` artifacts, and a student must never become the teacher's baseline.
    """

    # `namespace.Name`, importable: see components.edge_export.EdgeModels.
    TYPE_NAME = "components.StudentModel"
    SYSTEM_TYPE = ModelSystemType


def read_split(transformed_examples, transformed_spec: dict, split: str):
    """A transformed split's labelled rows as `edge.student.training.TrainSplit`."""
    from tfx.types import artifact_utils

    from edge import examples
    from edge.student.training import TrainSplit

    files = examples.split_files(artifact_utils.get_split_uri([transformed_examples], split))
    keys = (features.INPUT_WORD_IDS, features.INPUT_MASK)
    arrays = examples.labelled_arrays(files, transformed_spec, keys, features.LABEL_ID)
    return TrainSplit(arrays[features.INPUT_WORD_IDS], arrays[features.INPUT_MASK], arrays[features.LABEL_ID])


@tfx.dsl.components.component
def Distill(  # noqa: N802  (TFX names components like classes)
    model: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Model],
    blessing: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.ModelBlessing],
    transform_graph: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.TransformGraph],
    transformed_examples: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Examples],
    student_model: tfx.dsl.components.OutputArtifact[StudentModel],
    student: tfx.dsl.components.Parameter[str],
) -> None:
    """Trains `student.seeds` students on the teacher's labels and keeps the best on a validation slice of train.

    Args:
      model: Trainer's model, the teacher (its Format-Serving SavedModel labels the transfer set).
      blessing: Evaluator's blessing: an unblessed teacher is not distilled (nothing of it is pushed).
      transform_graph: Transform's output (the transformed feature spec).
      transformed_examples: Transform's examples: the train split is learnt from, the eval
        split only reports each seed's accuracy.
      student_model: Output: the chosen QAT student (`edge.student.saved`).
      student: JSON of the `student` config section.
    """
    import logging

    import tensorflow_transform as tft
    from tfx.utils import path_utils

    from common import artifact_io
    from common.error_lines import error_line
    from edge import variants
    from edge.student import saved, training
    from preprocessing import tokenizer as tok
    from preprocessing.asset_files import VOCAB_FILE
    from trainers.export import read_class_names

    config = EdgelineConfig.from_dict({"student": json.loads(student)}).student
    if not bool(blessing.get_int_custom_property("blessed")):
        report = saved.save_skipped("the teacher was not blessed, so no student was distilled", student_model.uri)
        student_model.set_int_custom_property("distilled", 0)
        logging.info("Distill: %s", report.reason)
        return
    saved_model_dir = path_utils.serving_model_path(model.uri)
    # The teacher carries its tokenizer's vocab (the specials and [MASK] the transfer set uses).
    vocab = tok.read_vocab(artifact_io.join(saved_model_dir, "assets", VOCAB_FILE))
    spec = tft.TFTransformOutput(transform_graph.uri).transformed_feature_spec()
    train, evaluation = read_split(transformed_examples, spec, "train"), read_split(transformed_examples, spec, "eval")
    loaded = variants.load_saved_model(saved_model_dir)
    try:
        distilled = training.distil(
            loaded.classifier, train, vocab, len(read_class_names(saved_model_dir)), config, evaluation
        )
    except Exception as e:  # noqa: BLE001 - a student that cannot be built is a failed variant, not a failed run
        # E.g. a small train split leaves fewer word pieces than student.embedding_dim, or
        # tokenizer.max_seq_length is too short for the downsampling: the teacher's variants stand.
        reason = f"student not built: {type(e).__name__}: {error_line(e)}"
        logging.warning("%s", reason)
        saved.save_skipped(reason, student_model.uri)
        student_model.set_int_custom_property("distilled", 0)
        return
    saved.save(distilled, vocab, vocab.index(tok.UNK), student_model.uri)
    student_model.set_int_custom_property("distilled", 1)
    student_model.set_int_custom_property("seed", distilled.facts["seed"])
