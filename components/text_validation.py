"""TextValidator: post-transform token statistics (TFDV natural-language domain) that gate Trainer."""

import dataclasses
import json
import math
import os

import apache_beam as beam
import numpy as np
import pyarrow as pa
import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2, statistics_pb2
from tfx import v1 as tfx
from tfx.dsl.io import fileio
from tfx.types import artifact_utils
from tfx.types.artifact import Artifact
from tfx.utils import io_utils
from tfx_bsl.public import tfxio

from configs import features
from preprocessing import sequence_length
from preprocessing import tokenizer as tok
from preprocessing.datasets import DataError

_VOCAB_NAME = "encoder_vocab"
_STATS_FILE = "FeatureStats.pb"
_ANOMALIES_FILE = "SchemaDiff.pb"


class DataValidationError(DataError):
    """The data failed validation; the message gives each measured value and its threshold."""


@dataclasses.dataclass(frozen=True)
class TextCheck:
    """What TextValidator measured on one split."""

    split: str
    examples: int
    unk_share: float
    truncated_share: float
    anomalies: tuple[str, ...]
    # The smallest tokenizer.max_seq_length that truncates at most data.max_truncated_share of the split.
    fitting_length: int = 0


def token_schema(assets: tok.TokenizerAssets, max_seq_length: int, max_unk_share: float) -> schema_pb2.Schema:
    """A schema whose natural-language domain on `input_word_ids` encodes the text checks.

    Vocabulary coverage (1 - share of [UNK] among real word pieces), exactly one
    [CLS] and one [SEP] per sequence, and 2..max_seq_length non-padding tokens.
    """
    schema = schema_pb2.Schema()
    feature = schema.feature.add(name=features.INPUT_WORD_IDS, type=schema_pb2.INT)
    domain = feature.natural_language_domain
    domain.vocabulary = _VOCAB_NAME
    domain.coverage.min_coverage = 1.0 - max_unk_share
    domain.coverage.excluded_string_tokens.extend([tok.PAD, tok.CLS, tok.SEP])
    domain.coverage.oov_string_tokens.append(tok.UNK)
    for token in (tok.CLS, tok.SEP):
        constraint = domain.token_constraints.add(string_value=token)
        constraint.min_per_sequence = 1
        constraint.max_per_sequence = 1
    domain.sequence_length_constraints.excluded_string_value.append(tok.PAD)
    domain.sequence_length_constraints.min_sequence_length = 2
    domain.sequence_length_constraints.max_sequence_length = max_seq_length
    schema.feature.add(name=features.NUM_TOKENS, type=schema_pb2.INT)
    return schema


def _vocab_coverage(stats: statistics_pb2.DatasetFeatureStatisticsList) -> float:
    for feature in stats.datasets[0].features:
        if feature.path.step[-1] != features.INPUT_WORD_IDS:
            continue
        for custom in feature.custom_stats:
            if custom.name == "nl_statistics":
                nl = statistics_pb2.NaturalLanguageStatistics()
                custom.any.Unpack(nl)
                return nl.feature_coverage
    return 1.0


class _CountPieces(beam.CombineFn):
    """Texts by word-piece count (before truncation), over record batches.

    TFDV has no constraint on the share of a numeric feature above a value, and its
    quantiles are approximate, so the counts behind the truncation share and the
    length that would keep it under the limit are gathered here (one entry per
    distinct length: a few hundred, however many rows).
    """

    def create_accumulator(self):
        return {}

    def add_input(self, acc, batch: pa.RecordBatch):
        column = batch.column(batch.schema.get_field_index(features.NUM_TOKENS))
        values, counts = np.unique(column.flatten().to_numpy(zero_copy_only=False), return_counts=True)
        for value, count in zip(values.tolist(), counts.tolist(), strict=True):
            acc[value] = acc.get(value, 0) + count
        return acc

    def merge_accumulators(self, accs):
        merged = {}
        for acc in accs:
            for value, count in acc.items():
                merged[value] = merged.get(value, 0) + count
        return merged

    def extract_output(self, acc):
        return sorted(acc.items())


def describe_failures(
    checks: "list[TextCheck]",
    raw_anomalies: "list[str]",
    max_unk_share: float,
    max_truncated_share: float,
    max_seq_length: int = 0,
    shape: "EncoderShape | None" = None,
) -> str | None:
    """One message naming every failed check with its measured value and threshold, or None.

    Args:
      checks: What each split measured.
      raw_anomalies: ExampleValidator's findings on the raw columns, one line each.
      max_unk_share: `data.max_unk_share`.
      max_truncated_share: `data.max_truncated_share`.
      max_seq_length: `tokenizer.max_seq_length`, which the truncation share was measured at.
      shape: The encoder's widths and positions, for the cost of a longer length (None: not known).
    """
    problems = list(raw_anomalies)
    for check in checks:
        if check.unk_share > max_unk_share:
            problems.append(
                f"{check.split} split: {check.unk_share:.1%} of word pieces are [UNK] (data.max_unk_share "
                f"{max_unk_share:.1%}): is the text in a language or script the encoder's vocabulary covers?"
            )
        if check.truncated_share > max_truncated_share:
            problems.append(_truncation_problem(check, max_truncated_share, max_seq_length, shape))
        problems += [f"{check.split} split: {a}" for a in check.anomalies if "coverage" not in a.lower()]
    return "; ".join(problems) if problems else None


@dataclasses.dataclass(frozen=True)
class EncoderShape:
    """What the cost of a longer sequence depends on: the encoder's widths, and how many positions it has."""

    hidden_size: int
    intermediate_size: int
    max_positions: int


def _truncation_problem(check: TextCheck, max_share: float, max_seq_length: int, shape: EncoderShape | None) -> str:
    """The truncation stop line: the length that would pass, what it costs, and the other way out."""
    head = (
        f"{check.split} split: {check.truncated_share:.1%} of texts are truncated at tokenizer.max_seq_length "
        f"{max_seq_length} (data.max_truncated_share {max_share:.1%})"
    )
    # Where a text's beginning carries its class (a topic, a ticket's subject), truncation costs little.
    # Rounded up: a limit of the share rounded down would stop the run again.
    limit = math.ceil(check.truncated_share * 100 - 1e-9) / 100
    accept = f"or, if a text's beginning carries its class, set data.max_truncated_share={limit:.2f}"
    needed = check.fitting_length
    if not needed or not max_seq_length:
        return f"{head}: raise tokenizer.max_seq_length, {accept}"
    if shape is not None and needed > shape.max_positions:
        return (
            f"{head}: it would take tokenizer.max_seq_length={needed}, more than the encoder's "
            f"{shape.max_positions} positions; {accept}"
        )
    cost = sequence_length.describe_cost(
        needed, max_seq_length, shape.hidden_size if shape else None, shape.intermediate_size if shape else None
    )
    return f"{head}: tokenizer.max_seq_length={needed} keeps it within the limit, at {cost}; {accept}"


def encoder_shape(encoder_dir: str) -> EncoderShape | None:
    """The encoder's EncoderShape, or None for an encoder that does not record its architecture."""
    from trainers import bert_encoder

    architecture = bert_encoder.read_architecture(encoder_dir)
    if architecture is None:
        return None
    return EncoderShape(architecture.hidden_size, architecture.intermediate_size, architecture.max_position_embeddings)


def _raw_anomalies(raw: Artifact) -> list[str]:
    out = []
    for split in artifact_utils.decode_split_names(raw.split_names):
        path = os.path.join(raw.uri, f"Split-{split}", _ANOMALIES_FILE)
        if not fileio.exists(path):  # fileio: os.path.exists is always False for gs://
            continue
        anomalies = anomalies_pb2.Anomalies()
        anomalies.ParseFromString(io_utils.read_bytes_file(path))
        for name, info in sorted(anomalies.anomaly_info.items()):
            out.append(
                f"{split} split: column {name!r}: {info.description or info.short_description} "
                "(ExampleValidator, schema inferred by SchemaGen)"
            )
    return out


@tfx.dsl.components.component(use_beam=True)
def TextValidator(  # noqa: N802 (TFX names components like classes)
    transformed_examples: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Examples],
    raw_anomalies: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.ExampleAnomalies],
    statistics: tfx.dsl.components.OutputArtifact[tfx.types.standard_artifacts.ExampleStatistics],
    anomalies: tfx.dsl.components.OutputArtifact[tfx.types.standard_artifacts.ExampleAnomalies],
    encoder_dir: tfx.dsl.components.Parameter[str],
    max_seq_length: tfx.dsl.components.Parameter[int],
    max_unk_share: tfx.dsl.components.Parameter[float],
    max_truncated_share: tfx.dsl.components.Parameter[float],
    beam_pipeline: tfx.dsl.components.BeamComponentParameter[beam.Pipeline] = None,
):
    """Computes token statistics of the transformed examples and fails the run if they are off.

    Writes per split `FeatureStats.pb` (with TFDV's natural-language statistics
    of `input_word_ids`) and `SchemaDiff.pb`, and `text_checks.json` with the
    measured [UNK] and truncation shares. Raises DataValidationError, which stops
    the run before Trainer, when ExampleValidator found anomalies in the raw data
    or a measured share exceeds its threshold.
    """
    assets = tok.assets_from_encoder(encoder_dir)
    schema = token_schema(assets, max_seq_length, max_unk_share)
    vocab_path = os.path.join(statistics.uri, "vocab.txt")
    io_utils.write_string_file(vocab_path, "\n".join(assets.vocab) + "\n")
    options = tfdv.StatsOptions(
        schema=schema,
        vocab_paths={_VOCAB_NAME: vocab_path},
        feature_allowlist=[features.INPUT_WORD_IDS, features.NUM_TOKENS],
    )
    splits = artifact_utils.decode_split_names(transformed_examples.split_names)
    length_paths = {}
    with beam_pipeline as p:
        for split in splits:
            source = tfxio.TFExampleRecord(
                file_pattern=os.path.join(transformed_examples.uri, f"Split-{split}", "*"),
                telemetry_descriptors=["edgeline", "TextValidator"],
            )
            batches = p | f"Read[{split}]" >> source.BeamSource()
            _ = (
                batches
                | f"Stats[{split}]" >> tfdv.GenerateStatistics(options)
                | f"WriteStats[{split}]"
                >> tfdv.WriteStatisticsToBinaryFile(os.path.join(statistics.uri, f"Split-{split}", _STATS_FILE))
            )
            length_paths[split] = os.path.join(statistics.uri, f"Split-{split}", "piece_counts")
            _ = (
                batches
                | f"Pieces[{split}]" >> beam.CombineGlobally(_CountPieces())
                | f"Json[{split}]" >> beam.Map(json.dumps)
                | f"WritePieces[{split}]" >> beam.io.WriteToText(length_paths[split], shard_name_template="")
            )
    checks = []
    for split in splits:
        stats = tfdv.load_stats_binary(os.path.join(statistics.uri, f"Split-{split}", _STATS_FILE))
        result = tfdv.validate_statistics(stats, schema)
        io_utils.write_bytes_file(
            os.path.join(anomalies.uri, f"Split-{split}", _ANOMALIES_FILE), result.SerializeToString()
        )
        piece_counts = dict(json.loads(io_utils.read_string_file(length_paths[split])))
        total = sum(piece_counts.values())
        checks.append(
            TextCheck(
                split=split,
                examples=total,
                unk_share=round(1.0 - _vocab_coverage(stats), 6),
                truncated_share=round(sequence_length.truncated_share(piece_counts, max_seq_length), 6),
                anomalies=tuple(f"{name}: {info.description}" for name, info in sorted(result.anomaly_info.items())),
                fitting_length=sequence_length.fitting_length(piece_counts, max_truncated_share),
            )
        )
    statistics.split_names = artifact_utils.encode_split_names(splits)
    anomalies.split_names = artifact_utils.encode_split_names(splits)
    io_utils.write_string_file(
        os.path.join(statistics.uri, "text_checks.json"),
        json.dumps(
            {
                "thresholds": {"max_unk_share": max_unk_share, "max_truncated_share": max_truncated_share},
                "splits": [dataclasses.asdict(c) for c in checks],
            },
            indent=2,
        ),
    )
    message = describe_failures(
        checks,
        _raw_anomalies(raw_anomalies),
        max_unk_share,
        max_truncated_share,
        max_seq_length,
        encoder_shape(encoder_dir),
    )
    if message:
        raise DataValidationError(message)
