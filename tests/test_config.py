"""Config files, dotted overrides and their error messages."""

import pytest

from configs import ConfigError, EdgelineConfig, apply_overrides, load_config, valid_keys


def test_default_config_loads_with_documented_defaults():
    config = load_config()
    assert config.tokenizer.max_seq_length == 64
    assert config.model.encoder == "builtin:all-minilm-l6-v2"
    assert config.eval.accuracy_threshold == pytest.approx(0.80)
    assert config.eval.change_threshold == pytest.approx(-0.01)


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
    assert sections == {"data", "tokenizer", "model", "train", "eval", "export", "runner"}


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
    from pipeline import cli, local_runner

    seen = []

    def fake_run(config, **kwargs):
        seen.append(config.data)
        return {}

    monkeypatch.setattr(local_runner, "run", fake_run)
    monkeypatch.setattr(cli, "_print_summary", lambda *args: None)
    assert cli.main(["run", "--delimiter", delimiter, "--encoding", "cp1252"]) == 0
    assert [(d.delimiter, d.encoding) for d in seen] == [(delimiter, "cp1252")]
