"""`edgeline predict`: answers raw text with a pushed SavedModel."""

from __future__ import annotations

import pathlib
from typing import Iterable, Sequence

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
    versions = sorted((p for p in path.glob("*") if p.name.isdigit() and (p / "saved_model.pb").exists()),
                      key=lambda p: int(p.name))
    if not versions:
        raise FileNotFoundError(
            f"{path}: no SavedModel here or in a version sub-directory; "
            "point --model at runs/NAME/serving or at one version inside it"
        )
    return versions[-1]


def predict_texts(model_dir: str | pathlib.Path, texts: Sequence[str]) -> list[dict]:
    """Classifies raw strings with the SavedModel's `serve_text` signature.

    Returns:
      One dict per text: `text`, `label` and `probabilities` by class name.
    """
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
            "probabilities": {name: round(float(p), 6) for name, p in zip(names, row)},
        }
        for text, label, row in zip(texts, labels, probabilities)
    ]


def iter_lines(stream) -> Iterable[str]:
    """Non-empty lines of a text stream, for `edgeline predict -`."""
    for line in stream:
        line = line.rstrip("\n")
        if line:
            yield line
