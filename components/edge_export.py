"""EdgeExport: a TFX component that builds, measures, gates and pushes the TFLite edge variants.

A Python-function component rather than a ComponentSpec/Executor pair: it has
one executor function with typed artifacts and parameters, TFX generates the
spec, channels and caching from that signature, and every piece of logic lives
in the `edge` package (testable without TFX). Parameters are exec properties, so a
changed gate threshold or variant list re-runs it and an unchanged rerun is cached.
"""

import json

from tfx import v1 as tfx
from tfx.types import artifact_utils
from tfx.types.system_artifacts import Model as ModelSystemType

from configs import EdgelineConfig, features


class EdgeModels(tfx.dsl.Artifact):
    """The TFLite variants with `edge_report.json`, `edge_report.md` and `edgetpu_report.json`."""

    # KFP v2 requires custom type names of the form `namespace.Name`, and TFX's container
    # entrypoint imports the class back from that name (kubeflow_v2_entrypoint_utils
    # `_retrieve_class_path`), so it must be an import path: components/__init__.py exports it.
    TYPE_NAME = "components.EdgeModels"
    SYSTEM_TYPE = ModelSystemType


def _split_files(artifact, split: str) -> list[str]:
    from edge import examples

    return examples.split_files(artifact_utils.get_split_uri([artifact], split))


def _representative(transformed_examples, transformed_spec: dict, count: int) -> dict:
    """`count` transformed training examples spread over the split and its classes (`edge.calibration.pick`)."""
    from edge import calibration, examples

    files = _split_files(transformed_examples, "train")
    # Two passes, so only the labels of a large split are held at once.
    labels = examples.transformed_rows(files, transformed_spec, [features.LABEL_ID])[features.LABEL_ID].reshape(-1)
    wanted = set(calibration.pick(labels.astype(int), count).tolist())
    return examples.transformed_rows(files, transformed_spec, features.MODEL_INPUTS, indices=wanted)


def _eval_rows(examples, text_column: str, label_column: str, class_names: list[str]) -> tuple[list[str], list[int]]:
    """Raw text and class index of every labelled eval example (`edge.examples.eval_rows`)."""
    from edge import examples as examples_lib

    return examples_lib.eval_rows(_split_files(examples, "eval"), text_column, label_column, class_names)


@tfx.dsl.components.component
def EdgeExport(  # noqa: N802  (TFX names components like classes)
    model: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Model],
    transform_graph: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.TransformGraph],
    transformed_examples: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Examples],
    examples: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Examples],
    blessing: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.ModelBlessing],
    pushed_model: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.PushedModel],
    edge_models: tfx.dsl.components.OutputArtifact[EdgeModels],
    config: tfx.dsl.components.Parameter[str],
    encoder_dir: tfx.dsl.components.Parameter[str],
    edge_dir: tfx.dsl.components.Parameter[str],
) -> None:
    """Builds every configured variant of the teacher, measures it on the whole eval split and pushes those that pass.

    The distilled student's variants are StudentExport's (components/student_export.py).

    Args:
      model: Trainer's model (its Format-Serving SavedModel is converted).
      transform_graph: Transform's output (sequence length, raw feature spec).
      transformed_examples: Transform's examples; the train split calibrates.
      examples: ExampleGen's raw examples; the eval split is measured.
      blessing: Evaluator's blessing; an unblessed teacher gets no variant (nothing of it is pushed).
      pushed_model: Pusher's output; edge files go under the same version.
      edge_models: Output: every variant and the reports.
      config: JSON of the `data`, `tokenizer`, `model` and `export` config sections.
      encoder_dir: The encoder Transform read its vocab and casing from.
      edge_dir: `runs/NAME/edge`; variants go to `edge_dir/<version>/`.
    """
    import logging

    import tensorflow_transform as tft
    from tfx.utils import path_utils

    from common import artifact_io
    from edge import eval_data, export, variants
    from edge.push import PushDir, teacher_file
    from edge.report_row import VariantRow
    from preprocessing import tokenizer as tok
    from trainers import bert_encoder
    from trainers.export import read_class_names

    cfg = EdgelineConfig.from_dict(json.loads(config))
    settings = cfg.export
    if settings.qat:
        raise ValueError(
            "export.qat: true is not supported: tfmot's quantization-aware training does not handle "
            "MultiHeadAttention or LayerNormalization; set export.qat=false (int8 and int16x8 use "
            "post-training calibration)"
        )
    unknown = [v for v in settings.variants if v not in variants.VARIANTS]
    if unknown:
        raise ValueError(f"export.variants: unknown variant {unknown[0]!r}; choose from {', '.join(variants.VARIANTS)}")
    blessed = bool(blessing.get_int_custom_property("blessed"))
    if not blessed:
        # As Distill: nothing of an unblessed teacher is pushed, and its variants' accuracy is measured
        # against a SavedModel nobody serves; converting and scoring them cost the 10-class run 20 minutes.
        reason = "the teacher was not blessed, so no edge variant was built"
        export.skip_variants(settings.variants, reason, edge_models.uri)
        edge_models.set_string_custom_property("pushed_dir", "")
        edge_models.set_int_custom_property("pushed_variants", 0)
        logging.info("EdgeExport: %s", reason)
        return
    tft_output = tft.TFTransformOutput(transform_graph.uri)
    transformed_spec = tft_output.transformed_feature_spec()
    max_seq_length = int(transformed_spec[features.INPUT_WORD_IDS].shape[-1])
    assets = tok.assets_from_encoder(encoder_dir)
    saved_model_dir = path_utils.serving_model_path(model.uri)
    class_names = read_class_names(saved_model_dir)
    loaded = variants.load_saved_model(saved_model_dir)

    representative = _representative(transformed_examples, transformed_spec, settings.representative_examples)
    texts, labels = _eval_rows(examples, cfg.data.text_column, cfg.data.label_column, class_names)
    data = eval_data.make_eval_data(loaded, texts, labels, assets, max_seq_length)

    pushed = bool(pushed_model.get_int_custom_property("pushed"))
    version = pushed_model.get_string_custom_property("pushed_version")
    # Every variant that passes is written beside edge/<version>/ and swapped in at the end,
    # so the directory holds exactly what this report marks pushed (edge/push.py).
    push_dir = (
        PushDir(artifact_io.join(edge_dir, version), owns=teacher_file) if blessed and pushed and version else None
    )
    result = export.export_variants(
        saved_model_dir,
        assets,
        max_seq_length,
        class_names,
        representative,
        data,
        edge_models.uri,
        settings.variants,
        settings.max_accuracy_drop,
        push_dir,
        pooling=cfg.model.pooling,
        group_outliers=settings.group_outliers,
        architecture=bert_encoder.read_architecture(encoder_dir),
    )
    report = result.report
    if push_dir is not None:
        push_dir.commit()
    edge_models.set_string_custom_property("pushed_dir", report["pushed_dir"] or "")
    if push_dir is not None:  # what a cached rerun checks the directory against (runner/repush.py)
        edge_models.set_string_custom_property("push_target", push_dir.target)
        edge_models.set_string_custom_property("pushed_digest", push_dir.digest())
    edge_models.set_int_custom_property(
        "pushed_variants", sum(1 for v in report["variants"].values() if VariantRow.from_json(v).pushed)
    )
