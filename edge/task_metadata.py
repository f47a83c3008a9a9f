"""The standard TFLite metadata (`TFLITE_METADATA`) that the TFLite Task Library and MediaPipe read."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

from common import artifact_io
from configs import features
from preprocessing.asset_files import LABELS_FILE, VOCAB_FILE

# The name the Task Library looks the score tensor up by (its BertNLClassifier/NLClassifier).
SCORE_NAME = "probability"
# Id inputs fed by a WordPiece tokenizer on the encoder's vocab: the teacher's id variants.
BERT_INPUT = "ids"
TEXT_INPUT = "text"


def populate(
    model: bytes, kind: str, lower_case: bool, files: Mapping[str, bytes], remap_file: str | None = None
) -> bytes:
    """`model` with the standard metadata for its input kind, and every file in `files` packed as one zip.

    `kind` `ids` (the encoder's three tensors) gets BertNLClassifier's metadata:
    the inputs' roles, a BertTokenizer process unit with `vocab.txt`, and the
    `probability` output with `labels.txt`. `text` gets NLClassifier's (a string
    input, tokenized in the graph). Any other kind (a student's) gets its input and
    the output with labels, and no tokenizer (see `_student_writer`).

    Files the metadata does not name (the MetadataPopulator allows them with a
    warning) go into the same archive, so the flatbuffer is followed by one zip.

    Args:
      model: The flatbuffer; metadata entries it carries already (edgeline's) are kept.
      kind: `ids`, `text`, or a student's input kind.
      lower_case: Whether the vocab is uncased; the Task Library always lower-cases.
      files: Associated file name -> content; must hold `labels.txt` (and `vocab.txt` for `ids`).
      remap_file: A student's file mapping encoder ids to its rows, named on its input.

    Returns:
      The .tflite bytes.
    """
    writers, metadata = _modules()
    # The writers take associated files by local path only.
    with artifact_io.local_dir(prefix="edgeline-metadata-") as tmp:
        paths = {name: artifact_io.join(tmp, name) for name in files}
        for name, content in files.items():
            artifact_io.write_bytes(paths[name], content)
        if kind == BERT_INPUT:
            writer = _bert_writer(writers, model, paths[VOCAB_FILE], lower_case, paths[LABELS_FILE])
        elif kind == TEXT_INPUT:
            writer = writers.nl_classifier.MetadataWriter.create_for_inference(model, None, [paths[LABELS_FILE]])
        else:
            writer = _student_writer(writers, model, kind, paths, remap_file)
        populated = bytes(writer.populate())
        unnamed = {name: content for name, content in files.items() if name not in _packed(populated)}
    if not unnamed:
        return populated
    # A second populator on the populated model appends to its archive (zipfile's "a" mode), not a second zip.
    populator = metadata.MetadataPopulator.with_model_buffer(populated)
    populator.load_metadata_buffer(metadata.get_metadata_buffer(populated))
    populator.load_associated_file_buffers(unnamed)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not exist in the metadata.*")
        populator.populate()
    return bytes(populator.get_model_buffer())


def _bert_writer(writers, model: bytes, vocab_path: str, lower_case: bool, labels_path: str):
    names = writers.writer_utils.get_input_tensor_names(model)
    ids, mask, segment = (_tensor_named(names, name) for name in features.MODEL_INPUTS)
    # The writer orders the metadata as the model's inputs are, and the Task Library finds the inputs by
    # these metadata names (checked: with the model's mask and segment inputs swapped, the same scores).
    # The schema's BertTokenizerOptions hold only the vocab: the Task Library lower-cases every input
    # (ASCII), so a cased vocab gets no tokenizer rather than one that tokenizes differently.
    tokenizer = writers.metadata_info.BertTokenizerMd(vocab_path) if lower_case else None
    return writers.bert_nl_classifier.MetadataWriter.create_for_inference(
        model, tokenizer, [labels_path], ids_name=ids, mask_name=mask, segment_name=segment
    )


def _student_writer(writers, model: bytes, kind: str, paths: Mapping[str, str], remap_file: str | None):
    """A student's input, output and labels; no process unit.

    No standard tokenizer expresses "WordPiece on the encoder's vocab, then map ids
    through the student's table": BertTokenizer on the student's own pieces would
    split a dropped word into kept pieces where edgeline maps it to [UNK], the
    BertNLClassifier needs three inputs (ids, mask, segment), and NLClassifier's
    RegexTokenizer looks whole words up. The vocab and the remap are named on the
    input, so an app finds what it must apply on the host.
    """
    info, schema = writers.metadata_info, _schema()
    input_files = [
        info.AssociatedFileMd(
            paths[VOCAB_FILE], "WordPiece vocabulary: tokenize with it first.", schema.AssociatedFileType.VOCABULARY
        )
    ]
    if remap_file:
        input_files.append(
            info.AssociatedFileMd(
                paths[remap_file], "Line i is the vocabulary id of input row i; other ids map to [UNK]'s row."
            )
        )
    (tensor_name,) = writers.writer_utils.get_input_tensor_names(model)
    student_input = info.TensorMd(
        name=kind,
        description="Student rows of the WordPiece ids: vocab.txt, then the remap file.",
        associated_files=input_files,
        tensor_name=tensor_name,
    )
    output = info.ClassificationTensorMd(
        name=SCORE_NAME,
        description="Probabilities of the labels respectively.",
        label_files=[info.LabelFileMd(paths[LABELS_FILE])],
        tensor_type=writers.writer_utils.get_output_tensor_types(model)[0],
    )
    return writers.metadata_writer.MetadataWriter.create_from_metadata_info(
        model,
        info.GeneralMd(name="edgeline student", description="Distilled text classifier."),
        input_md=[student_input],
        output_md=[output],
        associated_files=[f.file_path for f in (*input_files, *output.associated_files)],
    )


def _tensor_named(names: Sequence[str], feature: str) -> str:
    """The model's input tensor for `feature` (the converter names it `serving_default_<feature>:0`)."""
    found = [n for n in names if n == feature or n.split("_", 2)[-1].split(":")[0] == feature]
    if len(found) != 1:
        raise ValueError(f"no single input tensor for {feature!r} among {names}; id variants take the encoder's three")
    return found[0]


def _packed(model: bytes) -> list[str]:
    _, metadata = _modules()
    return metadata.MetadataDisplayer.with_model_buffer(model).get_packed_associated_file_list()


def _schema():
    from tensorflow_lite_support.metadata import metadata_schema_py_generated

    return metadata_schema_py_generated


def _modules():
    """tflite-support's metadata writers and populator.

    Imported from `tensorflow_lite_support`, the package `tflite_support.metadata_writers`
    re-exports: importing `tflite_support` itself loads the Task Library's vision
    bindings, which fail beside TensorFlow 2.16 ("cannot initialize type StatusCode:
    an object with that name is already defined").
    """
    from tensorflow_lite_support.metadata.python import metadata
    from tensorflow_lite_support.metadata.python import metadata_writers as writers
    from tensorflow_lite_support.metadata.python.metadata_writers import (  # noqa: F401  (loads the submodules)
        bert_nl_classifier,
        metadata_info,
        metadata_writer,
        nl_classifier,
        writer_utils,
    )

    return writers, metadata
