"""Ten string classes end to end: the default gate on someone else's data, per-class metrics, signatures.

A synthetic topic corpus (each class has its own words, one row in ten carries another class's)
and the tiny config, so the many-class path runs in `make test`: the first run is gated on the
eval split's majority class rather than a figure for the bundled binary data and is served; a
stricter gate then blesses nothing, and EdgeExport builds no variant of the unblessed teacher.
A last run under the same name (only Transform and TextValidator run again) checks
`tokenizer.max_seq_length: auto` and the truncation stop line through the pipeline.
"""

import csv
import io
import pathlib
import random
import re
from contextlib import redirect_stdout

import pytest

from configs import apply_overrides, load_config
from runner import local_runner
from serving import predict
from trainers import export

pytestmark = pytest.mark.e2e

TOPICS = {
    "animals": ("dog", "cat", "horse", "bird"),
    "food": ("pizza", "bread", "cheese", "soup"),
    "health": ("doctor", "fever", "hospital", "medicine"),
    "money": ("bank", "loan", "price", "tax"),
    "music": ("guitar", "song", "album", "band"),
    "school": ("teacher", "exam", "student", "homework"),
    "science": ("atom", "physics", "chemistry", "experiment"),
    "sports": ("football", "goal", "team", "match"),
    "travel": ("flight", "hotel", "airport", "luggage"),
    "weather": ("rain", "snow", "wind", "storm"),
}
CLASSES = tuple(sorted(TOPICS))
FILLER = "i think the one we saw was really quite about this today and yesterday so very much".split()


def _topics_csv(path: pathlib.Path, per_class: int = 40) -> None:
    """`question,topic` rows: two of the topic's words among filler; every tenth row has another topic's words."""
    rng = random.Random(0)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["question", "topic"])
        for i in range(per_class):
            for c, topic in enumerate(CLASSES):
                words = TOPICS[CLASSES[(c + 1) % len(CLASSES)] if i % 10 == 9 else topic]
                text = rng.sample(words, 2) + rng.sample(FILLER, 5)
                rng.shuffle(text)
                writer.writerow([" ".join(text), topic])


@pytest.fixture(scope="module")
def ten(tmp_path_factory, tiny_encoder):
    tmp_path = tmp_path_factory.mktemp("ten")
    data = tmp_path / "topics.csv"
    _topics_csv(data)
    base = [
        f"data.path={data}",
        "data.text_column=question",
        "data.label_column=topic",
        f"runner.runs_dir={tmp_path / 'runs'}",
        # The default gate (tiny.yaml sets an absolute 0.0 for its random encoder).
        "eval.accuracy_threshold=auto",
        "train.epochs=8",
        "student.enabled=false",
    ]
    config = apply_overrides(load_config("configs/tiny.yaml"), [*base, "export.edge=false"])
    first = local_runner.run(config, name="ten", out=lambda line: None)
    # The same model under a gate it cannot pass (a tenth of the rows carry another topic's words).
    strict = apply_overrides(load_config("configs/tiny.yaml"), [*base, "eval.min_gain_over_majority=0.99"])
    second = local_runner.run(strict, name="ten", out=lambda line: None)
    # `auto` with a cap shorter than the questions: the runner says what it picked, TextValidator stops
    # the run naming the length that passes (Transform and TextValidator alone run again).
    short = apply_overrides(strict, ["tokenizer.max_seq_length=auto", "tokenizer.max_auto_length=8"])
    lines: list[str] = []
    with pytest.raises(local_runner.RunFailedError) as stopped:
        local_runner.run(short, name="ten", out=lines.append)
    return first, second, (stopped.value.summary, lines)


def test_a_ten_class_model_is_served_on_the_default_gate(ten):
    first, *_ = ten
    assert first["status"] == "succeeded" and first["blessed"] is True and first["pushed_model"]
    assert first["input"]["labels"] == list(CLASSES)
    overall = first["metrics"]["overall"]
    # The gate read the eval split's own class shares: balanced, so about a tenth each.
    assert 0.1 <= overall["majority_share"] < 0.25
    majority = overall["majority_share"]
    assert overall["gain_over_majority"] == pytest.approx((overall["accuracy"] - majority) / (1 - majority), abs=1e-5)
    assert overall["gain_over_majority"] >= 0.5 and first["metrics"]["validation"]["ok"] is True
    # One-vs-rest metrics per class index, and their macro mean over the classes that define them
    # (precision at 0.5 is undefined for a class no example gets half the probability of).
    assert all(overall[f"auc/{i}"] is not None for i in range(len(CLASSES)))
    for metric in ("auc", "precision", "recall"):
        defined = [overall[f"{metric}/{i}"] for i in range(len(CLASSES)) if overall[f"{metric}/{i}"] is not None]
        mean = sum(defined) / len(defined) if defined else None
        assert overall[metric] == pytest.approx(mean, abs=1e-6), (metric, overall)
    names = export.read_class_names(first["pushed_model"])
    assert sorted(names) == list(CLASSES)
    rows = predict.predict_texts(first["pushed_model"], ["the team scored a goal in the match", ""])
    for row in rows:
        assert sorted(row["probabilities"]) == list(CLASSES)
        assert abs(sum(row["probabilities"].values()) - 1.0) < 1e-5
    assert rows[0]["label"] == "sports"


def test_the_terminal_eval_line_stays_short_with_ten_classes(ten):
    from cli import edgeline

    first, *_ = ten
    out = io.StringIO()
    with redirect_stdout(out):
        edgeline._print_summary(first, "runs", "ten")
    (line,) = [x for x in out.getvalue().splitlines() if x.startswith("eval: ")]
    assert "/" not in line.split(";")[0] and len(line) < 250, line
    assert line.endswith("; auc, calibration, precision, recall: means over 10 classes, each class in the report")


def test_an_unblessed_teacher_gets_no_edge_variant_and_the_line_names_the_gate(ten):
    first, second, _ = ten
    assert second["status"] == "succeeded" and second["blessed"] is False and second["pushed_model"] is None
    assert second["latest_pushed_model"] == first["pushed_model"]
    (failure,) = second["metrics"]["validation"]["failures"]
    assert failure["metric"] == "gain_over_majority"
    assert "eval.min_gain_over_majority 0.99 asks a model to remove that share" in failure["message"]
    assert "set eval.accuracy_threshold to one bound of your own" in failure["message"]
    edge = second["edge"]
    assert edge["pushed_dir"] is None and edge["saved_model"] is None
    reasons = {row["reason"] for row in edge["variants"].values()}
    assert reasons == {"the teacher was not blessed, so no edge variant was built"}
    built = sorted(p.name for p in pathlib.Path(edge["report"]).parent.iterdir())
    assert built == ["edge_report.json", "edge_report.md"]
    assert not (pathlib.Path(first["pushed_model"]).parent.parent / "edge").exists()


def test_auto_length_is_named_and_truncation_stops_with_the_length_that_passes(ten):
    *_, (summary, lines) = ten
    (picked,) = [line.split("] ", 1)[1] for line in lines if "tokenizer.max_seq_length auto" in line]
    assert picked.startswith("tokenizer.max_seq_length auto: 8, the cap (tokenizer.max_auto_length")
    assert summary["config"]["tokenizer"]["max_seq_length"] == 8
    assert summary["error"]["component"] == "TextValidator"
    assert "Trainer" not in [c["name"] for c in summary["components"]]
    message = summary["error"]["message"]
    needed = re.search(
        r"train split: [\d.]+% of texts are truncated at tokenizer.max_seq_length 8 "
        r"\(data.max_truncated_share 50.0%\): tokenizer.max_seq_length=(\d+) keeps it within the "
        r"limit, at about [\d.]+x the encoder's compute per text \(projections and feed-forward x[\d.]+, "
        r"attention x[\d.]+; H=32, I=64\); or, if a text's beginning carries its class, set "
        r"data.max_truncated_share=[\d.]+",
        message,
    )
    assert needed, message
    assert "would keep within data.max_truncated_share 50.0%" in picked and f"; {needed.group(1)} would" in picked
