"""Config files, dotted overrides and their error messages."""

import re

import pytest

from configs import ConfigError, EdgelineConfig, apply_overrides, load_config, valid_keys


def test_default_config_loads_with_documented_defaults():
    config = load_config()
    assert config.tokenizer.max_seq_length == 64
    assert config.model.encoder == "builtin:all-minilm-l6-v2"
    # No absolute bound on any data: the gate follows the eval split's majority class.
    assert config.eval.accuracy_threshold is None
    assert config.eval.min_gain_over_majority == pytest.approx(0.5)
    assert config.eval.change_threshold == pytest.approx(-0.01)


@pytest.mark.parametrize("raw", ["auto", "", "null"])
def test_an_optional_threshold_reads_unset_words_as_none_and_numbers_as_numbers(raw):
    assert apply_overrides(EdgelineConfig(), [f"eval.accuracy_threshold={raw}"]).eval.accuracy_threshold is None
    config = apply_overrides(EdgelineConfig(), ["eval.accuracy_threshold=0.8"])
    assert config.eval.accuracy_threshold == pytest.approx(0.8)
    assert EdgelineConfig.from_dict(config.to_dict()).eval.accuracy_threshold == pytest.approx(0.8)
    assert load_config("configs/tiny.yaml").eval.accuracy_threshold == 0.0
    with pytest.raises(ConfigError, match="eval.accuracy_threshold: expected a number, got 'high'"):
        apply_overrides(EdgelineConfig(), ["eval.accuracy_threshold=high"])


def test_override_by_dotted_path_parses_types():
    config = apply_overrides(
        EdgelineConfig(),
        ["train.epochs=3", "train.learning_rate=1e-4", "data.slice_columns=a,b", "runner.enable_cache=false"],
    )
    assert config.train.epochs == 3
    assert config.train.learning_rate == pytest.approx(1e-4)
    assert config.data.slice_columns == ("a", "b")
    assert config.runner.enable_cache is False


def test_unknown_key_lists_valid_keys():
    with pytest.raises(ConfigError) as info:
        apply_overrides(EdgelineConfig(), ["train.epoch=3"])
    message = str(info.value)
    assert "train.epoch" in message
    assert "train.epochs" in message and "tokenizer.max_seq_length" in message


def test_wrong_type_is_rejected_with_the_key():
    with pytest.raises(ConfigError, match="train.epochs: expected an integer"):
        apply_overrides(EdgelineConfig(), ["train.epochs=two"])


def test_round_trip_through_plain_dict():
    config = apply_overrides(EdgelineConfig(), ["tokenizer.length_buckets=8,16"])
    assert EdgelineConfig.from_dict(config.to_dict()) == config


def test_tiny_config_inherits_from_default():
    config = load_config("configs/tiny.yaml")
    assert config.model.encoder == "builtin:tiny-bert"
    assert config.data.text_column == "text"


def test_valid_keys_cover_every_section():
    sections = {key.split(".")[0] for key in valid_keys()}
    assert sections == {"data", "tokenizer", "model", "train", "eval", "drift", "export", "student", "runner"}


@pytest.mark.parametrize("override", ["data.labels=yes,no", "data.labels=[yes, no]", "data.labels=yes, no"])
def test_yes_and_no_labels_stay_words_on_the_command_line(override):
    assert apply_overrides(EdgelineConfig(), [override]).data.labels == ("yes", "no")


def test_yes_and_no_labels_stay_words_in_a_yaml_file(tmp_path):
    path = tmp_path / "labels.yaml"
    path.write_text("data:\n  labels: [yes, no, on, off]\nrunner:\n  enable_cache: no\n")
    config = load_config(path)
    assert config.data.labels == ("yes", "no", "on", "off")
    assert config.runner.enable_cache is False  # a boolean field still takes yes/no


def test_a_boolean_where_text_is_meant_asks_for_quotes():
    with pytest.raises(ConfigError) as info:
        apply_overrides(EdgelineConfig(), ["data.labels=[true, false]"])
    assert str(info.value) == "data.labels: true is read as a boolean; write 'true' in quotes to mean the text"
    assert apply_overrides(EdgelineConfig(), ["data.labels=['true', 'false']"]).data.labels == ("true", "false")


def test_a_single_value_is_a_list_of_one():
    config = apply_overrides(EdgelineConfig(), ["tokenizer.length_buckets=32", "data.slice_columns=source"])
    assert config.tokenizer.length_buckets == (32,)
    assert config.data.slice_columns == ("source",)


@pytest.mark.parametrize("delimiter", [";", "|", ",", "tab"])
def test_delimiter_and_encoding_reach_the_config_from_the_cli(delimiter, monkeypatch):
    from cli import edgeline
    from runner import local_runner

    seen = []

    def fake_run(config, **kwargs):
        seen.append(config.data)
        return {}

    monkeypatch.setattr(local_runner, "run", fake_run)
    monkeypatch.setattr(edgeline, "_print_summary", lambda *args: None)
    assert edgeline.main(["run", "--delimiter", delimiter, "--encoding", "cp1252"]) == 0
    assert [(d.delimiter, d.encoding) for d in seen] == [(delimiter, "cp1252")]


def test_a_child_file_merges_into_its_base_at_every_depth(tmp_path):
    (tmp_path / "base.yaml").write_text(
        "student:\n  epochs: 6\n  seeds: 2\n  variants: [student, student_micro]\nexport:\n  max_accuracy_drop: 2.0\n"
    )
    (tmp_path / "mid.yaml").write_text("base: base.yaml\nstudent:\n  temperature: 4.0\n")
    (tmp_path / "child.yaml").write_text("base: mid.yaml\nstudent:\n  epochs: 3\n  variants: [student]\n")
    config = load_config(tmp_path / "child.yaml")
    # The child's key wins; the base's siblings of it stay; a list is replaced whole.
    assert (config.student.epochs, config.student.seeds, config.student.temperature) == (3, 2, 4.0)
    assert config.student.variants == ("student",)
    assert config.export.max_accuracy_drop == 2.0 and config.student.batch_size == 64


@pytest.mark.parametrize(
    ("where", "message"),
    [
        (
            ["export.student.epochs=3"],
            "export.student.epochs moved to a top-level `student:` section; write student.epochs",
        ),
        ("export:\n  student:\n    epochs: 3\n    seed: 7\n", "write student.epochs, student.seed instead"),
    ],
)
def test_the_old_student_keys_name_the_new_ones(tmp_path, where, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        if isinstance(where, list):
            apply_overrides(EdgelineConfig(), where)
        else:
            (tmp_path / "old.yaml").write_text(where)
            load_config(tmp_path / "old.yaml")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("student.pooling=avg", "student.pooling: 'avg' is not one of max, mean"),
        ("student.variants=[student,student_tpu]", "student.variants: 'student_tpu' is not one of student, "),
        ("export.variants=[int8,int8]", "export.variants: ['int8', 'int8'] names a value twice"),
        ("model.pooling=max", "model.pooling: 'max' is not one of mean, cls"),
        ("eval.baseline=latest", "eval.baseline: 'latest' is not one of serving, none"),
    ],
)
def test_fixed_choices_are_checked_when_the_config_loads(override, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        apply_overrides(EdgelineConfig(), [override])


def test_the_choices_are_the_variants_the_edge_package_builds():
    from configs.config import CHOICES
    from edge import variants
    from edge.student import convert

    assert CHOICES["export.variants"] == tuple(variants.VARIANTS)
    assert CHOICES["student.variants"] == tuple(convert.STUDENT_VARIANTS)
    assert EdgelineConfig().student.max_accuracy_drop == 5.0 and EdgelineConfig().student.seeds == 3
