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
        EdgelineConfig(), ["train.epochs=3", "train.learning_rate=1e-4", "data.slice_columns=a,b", "runner.enable_cache=false"]
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
