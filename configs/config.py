"""Typed edgeline configuration: frozen dataclasses, YAML files and dotted overrides."""

from __future__ import annotations

import dataclasses
import pathlib
import re
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

CONFIG_DIR = pathlib.Path(__file__).resolve().parent
DEFAULT_CONFIG = CONFIG_DIR / "default.yaml"


class ConfigError(ValueError):
    """A config file or override names an unknown key or holds a value of the wrong type."""


# Settings that take one of a fixed set of values (a tuple setting: any of them, each at most once),
# checked when the config loads rather than when the component that reads one runs, hours later.
# `edge/variants.py` and `edge/student/convert.py` build the variants named here
# (tests/test_config.py keeps the lists equal).
CHOICES: dict[str, tuple[str, ...]] = {
    "model.pooling": ("mean", "cls"),
    "eval.baseline": ("serving", "none"),
    "export.variants": ("float32", "dynamic_range", "float16", "int8", "int16x8", "edgetpu", "text"),
    "student.variants": ("student", "student_edgetpu", "student_micro"),
    "student.pooling": ("max", "mean"),
    "drift.action": ("warn", "stop"),
}
# Sections that moved: old dotted prefix -> new one.
_MOVED = {"export.student.": "student."}


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Where the labelled CSV is and which columns matter.

    Attributes:
      path: A CSV file or a directory of CSV files. Empty means the bundled
        Rotten Tomatoes movie-review snippets. A TFX span pattern such as
        `reviews/span-{SPAN}/*.csv` (`{VERSION}` too) names spans of new data:
        a run trains on the newest `spans` of them.
      spans: With a span pattern: how many of the newest spans a run trains on (a rolling window).
      schema: A reviewed schema file (`.pbtxt`, e.g. written by `edgeline schema`) the
        pipeline imports instead of inferring one; an anomaly against it stops the run
        before Transform. Empty: the schema is inferred from the data, as before.
      text_column: Column holding the raw text.
      label_column: Column holding the label (integers 0..K-1 or strings).
      slice_columns: Extra raw columns to slice evaluation metrics by.
      train_buckets: Hash buckets for the train split.
      eval_buckets: Hash buckets for the eval split.
      labels: The allowed label values. Empty: the classes of the model this
        run already serves, or on a first run whatever the data holds.
      max_unk_share: Largest share of [UNK] word pieces (after Transform) a
        split may have; above it the run stops before Trainer.
      max_truncated_share: Largest share of texts longer than
        `tokenizer.max_seq_length` a split may have.
      delimiter: The character between cells: `,`, or e.g. `;` for a
        spreadsheet saved in a locale with decimal commas, `tab` for TSV.
      encoding: The text encoding, e.g. `cp1252` for Excel's plain "CSV" on
        Windows; a UTF-8 or UTF-16 byte-order mark overrides it.
    """

    path: str = ""
    text_column: str = "text"
    label_column: str = "label"
    slice_columns: tuple[str, ...] = ()
    train_buckets: int = 4
    eval_buckets: int = 1
    labels: tuple[str, ...] = ()
    max_unk_share: float = 0.05
    max_truncated_share: float = 0.2
    delimiter: str = ","
    encoding: str = "utf-8"
    spans: int = 1
    schema: str = ""


@dataclasses.dataclass(frozen=True)
class TokenizerConfig:
    """WordPiece settings; vocab and casing come from the encoder itself.

    Attributes:
      max_seq_length: Tokens per example including [CLS] and [SEP]. `auto` (held as None until
        resolved): the local runner picks the shortest length that truncates at most
        `data.max_truncated_share` of the input's texts, at least 16 and at most
        `max_auto_length` (and the encoder's positions), before any component runs; a
        Kubeflow compile refuses it (it reads no data).
      max_auto_length: The longest length `auto` picks (attention's cost grows with its square).
      length_buckets: Inclusive upper bounds (in word pieces, before truncation) of the
        token-length slices; a last bucket holds everything longer.
    """

    max_seq_length: int | None = 64
    max_auto_length: int = 256
    length_buckets: tuple[int, ...] = (16, 32, 62)


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """The classifier on top of a TF Hub-format BERT encoder.

    Attributes:
      encoder: A handle: `builtin:<name>` for encoders edgeline builds offline,
        a local SavedModel directory, or a tfhub.dev URL.
      pooling: `mean` (masked mean of the sequence output) or `cls` (pooled_output).
      dropout: Dropout rate before the classification head.
    """

    encoder: str = "builtin:all-minilm-l6-v2"
    pooling: str = "mean"
    dropout: float = 0.1


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings for `trainers.train.train`.

    Attributes:
      epochs: Passes over the train split.
      max_steps: If > 0, stop after this many optimizer steps (overrides epochs).
      per_replica_batch_size: Examples per replica per step.
      learning_rate: Peak AdamW learning rate.
      warmup_fraction: Share of steps with linear warmup.
      weight_decay: AdamW decoupled weight decay.
      eval_steps: Batches of the eval split scored after each epoch (0 = all).
      seed: Random seed for weights and shuffling.
      warm_start: Start from the serving model's weights when one serves and its encoder,
        classes and `tokenizer.max_seq_length` match this run's (else from the encoder,
        saying why); false always starts from the encoder.
      warm_start_epochs: Epochs of a warm-started training (the serving model has seen the
        earlier data already); `max_steps` still caps them.
    """

    epochs: int = 2
    max_steps: int = 0
    per_replica_batch_size: int = 32
    learning_rate: float = 5e-5
    warmup_fraction: float = 0.1
    weight_decay: float = 0.01
    eval_steps: int = 0
    seed: int = 42
    warm_start: bool = True
    warm_start_epochs: int = 1


@dataclasses.dataclass(frozen=True)
class EvalConfig:
    """TFMA blessing thresholds.

    Attributes:
      accuracy_threshold: Lowest overall eval accuracy that can be blessed, for every dataset
        alike. Unset (`auto`, the default): the gate follows the data instead, through
        `min_gain_over_majority`; a number set here replaces that gate.
      min_gain_over_majority: With no `accuracy_threshold`: the share of the errors of always
        answering the eval split's most common class the model must remove, (accuracy -
        majority share) / (1 - majority share). At 0.5, 10 balanced classes need accuracy
        0.55, two balanced ones 0.75, a 90/10 split 0.95. Chance (guessing by the class
        shares) never scores above the majority share, so the gate is above both.
      change_threshold: Lowest allowed accuracy change against the model serving
        now, the last pushed (negative: how much worse is tolerated).
      baseline: What the candidate is compared with: `serving` (the model this run
        name serves) or `none` (no comparison: blessed on its accuracy gate alone;
        for a run whose serving model read other columns and cannot be scored).
    """

    accuracy_threshold: float | None = None
    min_gain_over_majority: float = 0.5
    change_threshold: float = -0.01
    baseline: str = "serving"


@dataclasses.dataclass(frozen=True)
class DriftConfig:
    """How far this run's data may move from the data the serving model was trained on.

    Every figure is computed on the train split after Transform, against the same
    figures of the serving model's training data (retraining/drift.py).

    Attributes:
      action: `warn` (report the figures, train anyway) or `stop` (a drifted figure ends the
        run before Trainer, exit code 4, the serving model untouched).
      max_label_linf: Largest L-infinity distance between the two label distributions.
      max_length_js: Largest Jensen-Shannon divergence between the two distributions of text
        length in word pieces.
      max_unk_change: Largest change (either way) of the share of [UNK] word pieces.
      max_truncated_change: Largest change (either way) of the share of texts longer than
        `tokenizer.max_seq_length`.
      max_meaning_auc: Largest AUC of a classifier telling the two data sets apart by the
        serving model's sentence embeddings (0.5: indistinguishable; 1.0: disjoint), on up to
        400 texts a side.
    """

    action: str = "warn"
    max_label_linf: float = 0.15
    max_length_js: float = 0.1
    max_unk_change: float = 0.02
    max_truncated_change: float = 0.1
    max_meaning_auc: float = 0.75


@dataclasses.dataclass(frozen=True)
class StudentConfig:
    """The distilled convolutional student (`Distill`, `StudentExport`; edge/student/) and its three variants.

    Attributes:
      enabled: Distil the student and build, gate and push its variants (the Distill and
        StudentExport components); needs `export.edge`.
      variants: Which student variants to build (student, student_edgetpu, student_micro).
      max_accuracy_drop: The student's own gate: largest accuracy drop (points) against the
        teacher SavedModel on the eval split. It catches a broken student (collapsed training,
        a bad conversion, TFLM disagreeing with LiteRT), not the cost of being a student.
      seeds: Students trained (seeds `seed`, `seed + 1`, ...) on the same teacher labels; the
        one with the best accuracy on the validation slice is kept.
      validation_share: Share of the train split held out of the students' training to pick
        the seed (never the eval split the gate scores).
      embedding_dim: Width of the student's word-piece embedding (narrowed by `flash_margin`'s
        sizing when even a cut vocabulary would not fit `max_flash_bytes`).
      filters: Output channels of each convolution.
      kernel_size: Word pieces each convolution spans.
      conv_layers: Stacked convolutions (CONV_2D with a 1 x kernel_size window).
      downsample: Window and stride of the max pooling between two convolutions: each
        convolution reaches about `downsample` times as far as the one before (at 2, three
        convolutions span 3, 8 and 18 pieces); 1 turns it off.
      separable: Depthwise (DEPTHWISE_CONV_2D) + pointwise convolutions instead of full ones.
      pooling: `max` or `mean` over the sequence.
      min_piece_count: Word pieces seen fewer times than this in the train split
        share the [UNK] row of the student's (restricted) embedding table.
      teacher_embedding_init: Start the embedding from the teacher's word-piece
        embeddings projected by PCA to `embedding_dim`.
      temperature: Softmax temperature of the teacher's soft labels.
      soft_weight: Weight of the soft-label loss; the true labels get 1 - soft_weight.
      transfer_copies: Perturbed copies of the train split the teacher labels
        (the transfer set); 0 trains on the train split alone.
      mask_prob: Share of word pieces a perturbed copy replaces with [MASK].
      swap_prob: Share of word pieces a perturbed copy replaces with a random train piece.
      ngram_prob: Share of perturbed copies cut down to a random window of 1-5 word pieces.
      epochs: Float training epochs.
      qat_epochs: Quantization-aware fine-tuning epochs (tfmot) after the float ones.
      prune_sparsity: Final magnitude-pruning sparsity of the convolutions and the
        dense layer (tfmot); 0 turns pruning off.
      batch_size: Examples per step.
      learning_rate: Adam learning rate of the float epochs (QAT uses a tenth).
      max_flash_bytes: student_micro's flash budget (model bytes). The filters, the vocabulary
        and if need be the width are sized before training so the predicted flatbuffer fits it;
        a budget too small for a useful student leaves student_micro out (its row names the
        smallest budget that fits) and the other variants unchanged.
      max_arena_bytes: student_micro's tensor-arena budget; the filters are sized to fit it.
      flash_margin: Share of `max_flash_bytes` the sizing leaves free for the prediction's error.
      seed: Random seed of weights, perturbations and shuffling (of the first seed).
    """

    enabled: bool = True
    variants: tuple[str, ...] = ("student", "student_edgetpu", "student_micro")
    max_accuracy_drop: float = 5.0
    seeds: int = 3
    validation_share: float = 0.1
    embedding_dim: int = 32
    filters: int = 128
    kernel_size: int = 3
    conv_layers: int = 3
    downsample: int = 2
    separable: bool = False
    pooling: str = "max"
    min_piece_count: int = 2
    teacher_embedding_init: bool = True
    temperature: float = 2.0
    soft_weight: float = 0.5
    transfer_copies: int = 2
    mask_prob: float = 0.15
    swap_prob: float = 0.05
    ngram_prob: float = 0.1
    epochs: int = 4
    qat_epochs: int = 1
    prune_sparsity: float = 0.0
    batch_size: int = 64
    learning_rate: float = 2e-3
    max_flash_bytes: int = 524288
    max_arena_bytes: int = 65536
    flash_margin: float = 0.02
    seed: int = 42


@dataclasses.dataclass(frozen=True)
class ExportConfig:
    """What gets exported next to the SavedModel.

    Attributes:
      edge: Build, measure and gate the TFLite edge variants (EdgeExport).
      max_accuracy_drop: Largest accuracy drop (in points) against the SavedModel
        on the eval split with which an edge variant is still pushed.
      representative_examples: Transformed training examples that calibrate the
        integer variants.
      qat: Quantization-aware fine-tuning before conversion (not supported:
        tfmot does not handle MultiHeadAttention/LayerNormalization; must stay false).
      variants: Which edge variants to build (float32, dynamic_range, float16,
        int8, int16x8, edgetpu, text). int16x8 is left out by default: TFLite's
        int16 kernels are reference code on x86 (~0.47 s an example here), so
        scoring it on the eval split held EdgeExport ~6 minutes after the rest.
      group_outliers: Convert int8 and edgetpu with the hidden dimension split
        into magnitude groups, each with its own int8 scale (edge/grouped_graph.py);
        false converts the plain graph.
    """

    edge: bool = True
    max_accuracy_drop: float = 1.0
    representative_examples: int = 500
    qat: bool = False
    variants: tuple[str, ...] = ("float32", "dynamic_range", "float16", "int8", "edgetpu", "text")
    group_outliers: bool = True


@dataclasses.dataclass(frozen=True)
class RunnerConfig:
    """How the pipeline runs.

    Attributes:
      runs_dir: Directory holding one sub-directory per run name.
      beam_args: Arguments for every Beam-based component.
      enable_cache: Reuse outputs of components whose inputs did not change.
      pipeline_root: Kubeflow only: object-storage root of component outputs
        (e.g. gs://bucket/edgeline).
      serving_dir: Kubeflow only: Pusher destination; empty means
        `<pipeline_root>/serving`.
      image: Kubeflow only: container image every component runs in.
      trainer_cpu: Kubeflow only: Trainer vCPU limit (0 = cluster default).
      trainer_memory_gb: Kubeflow only: Trainer memory limit in GB (0 = default).
      trainer_accelerator: Kubeflow only: Trainer accelerator type, e.g.
        NVIDIA_TESLA_T4 (empty = none).
      trainer_accelerator_count: Kubeflow only: accelerators for Trainer.
    """

    runs_dir: str = "runs"
    beam_args: tuple[str, ...] = (
        "--direct_running_mode=in_memory",
        "--direct_num_workers=1",
    )
    enable_cache: bool = True
    pipeline_root: str = ""
    serving_dir: str = ""
    image: str = ""
    trainer_cpu: float = 0.0
    trainer_memory_gb: float = 0.0
    trainer_accelerator: str = ""
    trainer_accelerator_count: int = 0


@dataclasses.dataclass(frozen=True)
class EdgelineConfig:
    """Everything a run needs, one section per concern."""

    data: DataConfig = DataConfig()
    tokenizer: TokenizerConfig = TokenizerConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    eval: EvalConfig = EvalConfig()
    drift: DriftConfig = DriftConfig()
    export: ExportConfig = ExportConfig()
    student: StudentConfig = StudentConfig()
    runner: RunnerConfig = RunnerConfig()

    def to_dict(self) -> dict[str, Any]:
        """Returns the config as plain JSON-compatible data (tuples become lists)."""
        return _to_plain(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EdgelineConfig:
        """Rebuilds a config from `to_dict` output, rejecting unknown keys and values outside `CHOICES`."""
        config = _build(cls, data, prefix="")
        _check_choices(config)
        return config


def _check_choices(config: EdgelineConfig) -> None:
    for key, allowed in CHOICES.items():
        section, field = key.split(".")
        value = getattr(getattr(config, section), field)
        values = value if isinstance(value, tuple) else (value,)
        for item in values:
            if item not in allowed:
                raise ConfigError(f"{key}: {item!r} is not one of {', '.join(allowed)}")
        if len(set(values)) != len(values):
            raise ConfigError(f"{key}: {list(values)} names a value twice")


def _to_plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_plain(v) for v in value]
    return value


def valid_keys(cls: type = EdgelineConfig, prefix: str = "") -> list[str]:
    """Returns every dotted key a config accepts, e.g. `train.epochs`."""
    keys = []
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        name = f"{prefix}{field.name}"
        if dataclasses.is_dataclass(hints[field.name]):
            keys.extend(valid_keys(hints[field.name], prefix=f"{name}."))
        else:
            keys.append(name)
    return keys


class _Loader(yaml.SafeLoader):
    """YAML with YAML 1.2's booleans: only true/false.

    Under YAML 1.1 (PyYAML's default) `yes`, `no`, `on` and `off` are booleans
    too, so `labels: [yes, no]` would name classes "True" and "False".
    """


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_BOOL_WORDS = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}


def parse_yaml(text: str) -> Any:
    """Parses YAML the way edgeline's config files and `--set` values are read (YAML 1.2 booleans)."""
    return yaml.load(text, Loader=_Loader)  # a SafeLoader: builds plain data only


# What an optional number (`eval.accuracy_threshold`) reads as "not set".
_UNSET_WORDS = ("", "auto", "none", "null")


def _coerce(value: Any, hint: Any, key: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType) and type(None) in typing.get_args(hint):
        if value is None or (isinstance(value, str) and value.strip().lower() in _UNSET_WORDS):
            return None
        (inner,) = [a for a in typing.get_args(hint) if a is not type(None)]
        return _coerce(value, inner, key)
    if origin is tuple:
        (item_type, _) = typing.get_args(hint)
        if isinstance(value, str):
            # `--set data.labels=yes,no`: items of a string list are taken as written.
            items = [v.strip() for v in value.split(",") if v.strip()]
            value = items if item_type is str else [parse_yaml(v) for v in items]
        elif not isinstance(value, (list, tuple)):
            value = [value]  # `--set tokenizer.length_buckets=32`: a list of one
        return tuple(_coerce(v, item_type, key) for v in value)
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _BOOL_WORDS:
            return _BOOL_WORDS[value.lower()]
        raise ConfigError(f"{key}: expected true or false, got {value!r}")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected an integer, got {value!r}")
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads "1e-4" (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{key}: expected a number, got {value!r}")
    if hint is str:
        if value is None:
            return ""
        if isinstance(value, bool):
            # str(True) is "True", which may not be how the user spelled it.
            word = str(value).lower()
            raise ConfigError(f"{key}: {word} is read as a boolean; write '{word}' in quotes to mean the text")
        return str(value)
    raise ConfigError(f"{key}: unsupported type {hint}")


def _build(cls: type, data: Mapping[str, Any], prefix: str) -> Any:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    for name in unknown:
        _check_moved(f"{prefix}{name}", data[name])
    if unknown:
        raise ConfigError(
            f"unknown config key {prefix}{unknown[0]}; valid keys: " + ", ".join(valid_keys(EdgelineConfig))
        )
    kwargs = {}
    for name, value in data.items():
        hint = hints[name]
        key = f"{prefix}{name}"
        if dataclasses.is_dataclass(hint):
            kwargs[name] = _build(hint, value or {}, prefix=f"{key}.")
        else:
            kwargs[name] = _coerce(value, hint, key)
    return cls(**kwargs)


def _check_moved(key: str, value: Any) -> None:
    """Raises a ConfigError naming the new key(s) when `key` (or what it holds) moved to another section."""
    for old, new in _MOVED.items():
        if key == old.rstrip("."):
            inner = sorted(value) if isinstance(value, Mapping) else []
            named = ", ".join(f"{new}{k}" for k in inner) or f"{new.rstrip('.')}.*"
            raise ConfigError(f"{key} moved to a top-level `{new.rstrip('.')}:` section; write {named} instead")
        if key.startswith(old):
            raise ConfigError(f"{key} moved to a top-level `{new.rstrip('.')}:` section; write {new}{key[len(old) :]}")


def apply_overrides(config: EdgelineConfig, overrides: Sequence[str]) -> EdgelineConfig:
    """Applies `section.field=value` overrides (values parsed as YAML).

    Args:
      config: The base config.
      overrides: Strings like `train.epochs=2` or `data.slice_columns=a,b`.

    Returns:
      A new config.

    Raises:
      ConfigError: If a key is unknown (the message lists the valid ones) or a
        value has the wrong type.
    """
    data = config.to_dict()
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not KEY=VALUE (e.g. train.epochs=2)")
        key, raw = item.split("=", 1)
        key = key.strip()
        _check_moved(key, None)
        if key not in valid_keys():
            raise ConfigError(f"unknown config key {key}; valid keys: " + ", ".join(valid_keys()))
        *sections, field = key.split(".")
        value = parse_yaml(raw) if raw.strip() else ""
        target = data
        for section in sections:  # nested sections
            target = target[section]
        target[field] = value
    return EdgelineConfig.from_dict(data)


def load_config(path: str | pathlib.Path | None = None, overrides: Sequence[str] = ()) -> EdgelineConfig:
    """Loads a YAML config file (default: configs/default.yaml) and applies overrides.

    A file only needs the keys it changes; the rest keep their dataclass defaults.
    A file may name a `base:` file (relative to itself) to start from; its sections
    are merged into the base's at every depth.
    """
    path = pathlib.Path(path) if path else DEFAULT_CONFIG
    if not path.exists():
        raise ConfigError(f"config file {path} does not exist")
    data = _read_yaml(path)
    return apply_overrides(EdgelineConfig.from_dict(data), overrides)


def _read_yaml(path: pathlib.Path) -> dict[str, Any]:
    try:
        data = parse_yaml(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"config file {path} is not valid YAML: {e}") from e
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path}: expected a mapping of sections, got {data!r}")
    base = data.pop("base", None)
    return _merge(_read_yaml((path.parent / base).resolve()), data) if base else data


def _merge(base: dict[str, Any], child: Mapping[str, Any]) -> dict[str, Any]:
    """`child` over `base`, mapping by mapping at every depth.

    A child that sets `student.epochs` keeps the base's other student keys; a list
    or a scalar replaces the base's value whole.
    """
    merged = dict(base)
    for key, value in child.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(dict(merged[key]), value)
        else:
            merged[key] = value
    return merged
