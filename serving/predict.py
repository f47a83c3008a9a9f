"""`edgeline predict`: answers raw text with a pushed SavedModel."""

from __future__ import annotations

import pathlib
from collections.abc import Iterable, Sequence

import numpy as np

from configs import features


def resolve_saved_model(path: str | pathlib.Path) -> pathlib.Path:
    """Returns the SavedModel directory for a version dir or a Pusher destination.

    A directory holding `saved_model.pb` is used as is; otherwise the numerically
    newest version sub-directory is used.

    Raises:
      FileNotFoundError: Naming the path, when it holds no SavedModel.
    """
    path = pathlib.Path(path)
    if (path / "saved_model.pb").exists():
        return path
    versions = sorted(
        (p for p in path.glob("*") if p.name.isdigit() and (p / "saved_model.pb").exists()), key=lambda p: int(p.name)
    )
    if not versions:
        raise FileNotFoundError(
            f"{path}: no SavedModel here or in a version sub-directory; "
            "point --model at runs/NAME/serving or at one version inside it"
        )
    return versions[-1]


def predict_texts(model_dir: str | pathlib.Path, texts: Sequence[str]) -> list[dict]:
    """Classifies raw strings with the SavedModel's `serve_text` signature.

    A path ending in `.tflite` is answered by that edge variant instead (see
    `predict_tflite`).

    Returns:
      One dict per text: `text`, `label` and `probabilities` by class name.
    """
    if str(model_dir).endswith(".tflite"):
        return predict_tflite(model_dir, texts)
    import tensorflow as tf

    from trainers.export import read_class_names

    model_dir = resolve_saved_model(model_dir)
    loaded = tf.saved_model.load(str(model_dir))
    outputs = loaded.signatures["serve_text"](text=tf.constant(list(texts), tf.string))
    names = read_class_names(str(model_dir))
    probabilities = outputs[features.PROBABILITIES].numpy()
    labels = outputs[features.PREDICTED_LABEL].numpy()
    return [
        {
            "text": text,
            "label": label.decode(),
            "probabilities": {name: round(float(p), 6) for name, p in zip(names, row, strict=True)},
        }
        for text, label, row in zip(texts, labels, probabilities, strict=True)
    ]


def predict_tflite(model_path: str | pathlib.Path, texts: Sequence[str]) -> list[dict]:
    """Classifies raw strings with an edge variant pushed by EdgeExport.

    The `text` variant tokenizes inside its graph. Id-input variants are fed
    by Transform's own tokenizer on the host, with the vocab file, casing and
    max_seq_length the .tflite carries in its edgeline metadata.

    Returns:
      One dict per text: `text`, `label` and `probabilities` by class name.

    Raises:
      FileNotFoundError: Naming the path, when the file does not exist.
    """
    from edge import eval_data, metadata, runtime
    from preprocessing import tokenizer as tok

    model_path = pathlib.Path(model_path)
    if not model_path.is_file():
        raise FileNotFoundError(f"{model_path}: no such .tflite; edge variants are under runs/NAME/edge/<version>/")
    info, files = metadata.read_metadata(model_path)
    if info.get("remap_file"):  # a distilled student variant (edge/student/)
        from edge.student.predict import student_probabilities

        probabilities = student_probabilities(model_path, info, files, texts)
        return _answers(texts, probabilities, info["labels"])
    # The thread count EdgeExport measured fastest for this file (older files: one).
    runner = runtime.VariantRunner(model_path.read_bytes(), num_threads=int(info.get("num_threads", 1)))
    if runner.takes_text:
        probabilities = runner(list(texts))
    else:
        vocab_text = files.get(metadata.VOCAB_FILE)
        if vocab_text is None:
            raise FileNotFoundError(f"{model_path}: carries no {metadata.VOCAB_FILE}; re-export it with EdgeExport")
        assets = tok.TokenizerAssets(tuple(vocab_text.splitlines()), bool(info["lower_case"]))
        ids = eval_data.tokenize(texts, assets, int(info["max_seq_length"]))
        data = eval_data.EvalData(list(texts), np.zeros(len(texts), np.int64), ids, np.zeros((len(texts), 0)))
        probabilities = runner.predict(data)
    return _answers(texts, probabilities, info["labels"])


def _answers(texts: Sequence[str], probabilities: np.ndarray, names: Sequence[str]) -> list[dict]:
    return [
        {
            "text": text,
            "label": names[int(np.argmax(row))],
            "probabilities": {name: round(float(p), 6) for name, p in zip(names, row, strict=True)},
        }
        for text, row in zip(texts, probabilities, strict=True)
    ]


def iter_lines(stream) -> Iterable[str]:
    """Non-empty lines of a text stream, for `edgeline predict -`."""
    for line in stream:
        line = line.rstrip("\n")
        if line:
            yield line
