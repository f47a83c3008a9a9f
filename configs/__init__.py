"""Typed configuration for edgeline; imports no TensorFlow."""

from configs.config import (
    ConfigError,
    DataConfig,
    DriftConfig,
    EdgelineConfig,
    EvalConfig,
    ExportConfig,
    ModelConfig,
    RunnerConfig,
    StudentConfig,
    TokenizerConfig,
    TrainConfig,
    apply_overrides,
    load_config,
    valid_keys,
)

__all__ = [
    "ConfigError",
    "DataConfig",
    "DriftConfig",
    "EdgelineConfig",
    "EvalConfig",
    "ExportConfig",
    "ModelConfig",
    "RunnerConfig",
    "StudentConfig",
    "TokenizerConfig",
    "TrainConfig",
    "apply_overrides",
    "load_config",
    "valid_keys",
]
