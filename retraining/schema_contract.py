"""The schema as a contract: an inferred schema tightened for people to review, and its anomalies as one line each."""

from __future__ import annotations

from collections.abc import Sequence

from common import artifact_io

# A text column may hold some empty cells (they are valid texts); a column that is mostly empty is not.
TEXT_MIN_PRESENCE = 0.5


def contract(schema, text_column: str, label_column: str, labels: Sequence[str]):
    """The inferred schema with the promises a reviewed schema makes.

    Args:
      schema: SchemaGen's inferred `tensorflow_metadata` Schema.
      text_column: `data.text_column`: must be present in at least `TEXT_MIN_PRESENCE` of the rows.
      label_column: `data.label_column`: present in every row, its values exactly `labels`.
      labels: The classes the run trained on (integers 0..K-1 or names).

    Returns:
      A new Schema (the argument is not changed).
    """
    from tensorflow_metadata.proto.v0 import schema_pb2

    out = schema_pb2.Schema()
    out.CopyFrom(schema)
    features = {f.name: f for f in out.feature}
    for column in (text_column, label_column):
        if column not in features:
            raise ValueError(f"the inferred schema has no column {column!r}; is it the run's text or label column?")
    text, label = features[text_column], features[label_column]
    text.presence.min_fraction = TEXT_MIN_PRESENCE
    text.presence.min_count = 1
    label.presence.min_fraction = 1.0
    label.presence.min_count = 1
    name = label.domain or label_column
    label.ClearField("domain_info")
    if label.type == schema_pb2.INT:
        values = sorted(int(v) for v in labels)
        label.int_domain.min, label.int_domain.max = values[0], values[-1]
        label.int_domain.is_categorical = True
    else:
        for domain in [d for d in out.string_domain if d.name == name]:
            out.string_domain.remove(domain)
        out.string_domain.add(name=name, value=sorted(labels))
        label.domain = name
    return out


def write(schema, path: str, header: Sequence[str]) -> None:
    """Writes a schema as text proto (`.pbtxt`), led by `# ` comment lines (any filesystem)."""
    from google.protobuf import text_format

    comments = "".join(f"# {line}\n" if line else "#\n" for line in header)
    artifact_io.write_text(path, comments + text_format.MessageToString(schema))


def write_contract(schema_uri: str, out: str, text_column: str, label_column: str, labels: Sequence[str]) -> None:
    """Reads a run's Schema artifact, tightens it with `contract` and writes it to `out` for review.

    Args:
      schema_uri: The Schema artifact's directory (SchemaGen's `schema.pbtxt` in it).
      out: Where the reviewed-to-be schema goes (`.pbtxt`, any filesystem).
      text_column, label_column, labels: As for `contract`.
    """
    import tensorflow_data_validation as tfdv

    schema = tfdv.load_schema_text(artifact_io.join(schema_uri, "schema.pbtxt"))
    header = [
        "edgeline data contract: the schema SchemaGen inferred, with the promises a reviewed schema makes.",
        f"Text column {text_column!r}: present in at least {TEXT_MIN_PRESENCE:.0%} of the rows.",
        f"Label column {label_column!r}: in every row, one of: {', '.join(labels)}.",
        "Review it, keep it under version control, and run with --set data.schema=THIS_FILE: a span that",
        "breaks it stops before Transform (exit code 4) with one line per anomaly.",
    ]
    write(contract(schema, text_column, label_column, labels), out, header)


def anomaly_lines(anomalies) -> list[str]:
    """One line per anomaly of ExampleValidator: the column, what changed, and what to do.

    Args:
      anomalies: A `tensorflow_metadata` Anomalies proto (one split's), found against the
        reviewed schema `data.schema` names.
    """
    lines = []
    for column, info in sorted(anomalies.anomaly_info.items()):
        what = "; ".join(r.description or r.short_description for r in info.reason) or info.description
        lines.append(
            f"column {column!r}: {what}: fix the data, or if the change is meant, update the reviewed schema "
            "file (data.schema)"
        )
    return lines
