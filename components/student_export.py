"""StudentExport: a TFX component that converts, measures, gates and pushes the distilled student's variants.

A component of its own rather than a step of EdgeExport, so that a student-only change
(a new Distill output) does not rebuild the teacher's seven variants, and a change to
the teacher's gate does not rebuild the student's. It pushes into the same
`edge/<version>/` as EdgeExport, replacing only the `student*` files (edge/push.py).
"""

import json

from tfx import v1 as tfx

from components.distill import StudentModel
from components.edge_export import EdgeModels
from configs import EdgelineConfig


@tfx.dsl.components.component
def StudentExport(  # noqa: N802  (TFX names components like classes)
    student_model: tfx.dsl.components.InputArtifact[StudentModel],
    model: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Model],
    examples: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Examples],
    blessing: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.ModelBlessing],
    pushed_model: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.PushedModel],
    student_models: tfx.dsl.components.OutputArtifact[EdgeModels],
    config: tfx.dsl.components.Parameter[str],
    encoder_dir: tfx.dsl.components.Parameter[str],
    edge_dir: tfx.dsl.components.Parameter[str],
) -> None:
    """Builds `student.variants` from Distill's student, scores each on the whole eval split, pushes those that pass.

    Args:
      student_model: Distill's output.
      model: Trainer's model, the teacher: the gate compares each variant with its eval accuracy.
      examples: ExampleGen's raw examples; the eval split is measured.
      blessing: Evaluator's blessing; nothing is pushed without it.
      pushed_model: Pusher's output; edge files go under the same version.
      student_models: Output: every student variant, `student_report.json` and `.md`.
      config: JSON of the `data` and `student` config sections.
      encoder_dir: The encoder Transform read its vocab and casing from.
      edge_dir: `runs/NAME/edge`; variants go to `edge_dir/<version>/`.
    """
    from tfx.types import artifact_utils
    from tfx.utils import path_utils

    from common import artifact_io
    from edge import eval_data, variants
    from edge import examples as examples_lib
    from edge.push import PushDir, student_file
    from edge.report_row import VariantRow
    from edge.student import build, saved
    from edge.student.report import write_report
    from preprocessing import tokenizer as tok
    from trainers.export import read_class_names

    cfg = EdgelineConfig.from_dict(json.loads(config))
    settings = cfg.student
    blessed = bool(blessing.get_int_custom_property("blessed"))
    pushed = bool(pushed_model.get_int_custom_property("pushed"))
    version = pushed_model.get_string_custom_property("pushed_version")
    push_dir = (
        PushDir(artifact_io.join(edge_dir, version), owns=student_file) if blessed and pushed and version else None
    )
    distilled = saved.read_report(student_model.uri)
    data = None
    if not distilled.distilled:
        result = build.not_built(settings.variants, distilled.reason)
    else:
        student = saved.load(student_model.uri)
        saved_model_dir = path_utils.serving_model_path(model.uri)
        class_names = read_class_names(saved_model_dir)
        loaded = variants.load_saved_model(saved_model_dir)
        assets = tok.assets_from_encoder(encoder_dir)
        files = examples_lib.split_files(artifact_utils.get_split_uri([examples], "eval"))
        texts, labels = examples_lib.eval_rows(files, cfg.data.text_column, cfg.data.label_column, class_names)
        data = eval_data.make_eval_data(loaded, texts, labels, assets, student.student.max_seq_length)
        result = build.build_students(
            student.student,
            student.vocab,
            student.representative,
            data,
            assets,
            class_names,
            settings,
            student_models.uri,
            push_dir,
            training=distilled.training,
            micro_misfit=(distilled.sizing or {}).get("micro_misfit"),
        )
    if push_dir is not None:
        push_dir.commit()
    report = write_report(
        student_models.uri, data, result, distilled, settings, push_dir.target if push_dir is not None else None
    )
    # The page was staged with the student and swapped in with it (edge/student/build.py).
    student_models.set_string_custom_property("web_dir", result.web.get("dir") or "")
    if result.web.get("error"):
        student_models.set_string_custom_property("web_error", result.web["error"])
    student_models.set_string_custom_property("pushed_dir", report["pushed_dir"] or "")
    if push_dir is not None:  # what a cached rerun checks the directory against (runner/repush.py)
        student_models.set_string_custom_property("push_target", push_dir.target)
        student_models.set_string_custom_property("pushed_digest", push_dir.digest())
    student_models.set_int_custom_property(
        "pushed_variants", sum(1 for v in report["variants"].values() if VariantRow.from_json(v).pushed)
    )
