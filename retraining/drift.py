"""Drift: this run's train split against the one the serving model learned from, figure by figure."""

from __future__ import annotations

import dataclasses
import json

from configs import DriftConfig
from retraining import meaning
from retraining.profile import LABEL, WORD_PIECES, DataProfile

# The report inside DriftCheck's output artifact.
REPORT_FILE = "drift.json"


@dataclasses.dataclass(frozen=True)
class DriftFigure:
    """One drift figure against its threshold.

    Attributes:
      name: What moved, e.g. `label distribution`.
      method: How it is measured, e.g. `L-infinity distance (TFDV)`.
      value: The figure; None when it could not be measured (`note` says why).
      threshold: The largest value that is not drift.
      setting: The config key of the threshold.
      note: Why a figure is missing.
    """

    name: str
    method: str
    value: float | None
    threshold: float
    setting: str
    note: str = ""

    @property
    def drifted(self) -> bool:
        return self.value is not None and self.value > self.threshold


@dataclasses.dataclass(frozen=True)
class DriftReport:
    """Every figure, the action the config asks for, and what was compared.

    Attributes:
      action: `drift.action`: warn or stop.
      baseline: The serving model's SavedModel the figures compare with ("" when none serves).
      figures: One per measure; empty when there was nothing to compare with.
      note: Why there are no figures.
      current: This run's profile summary (`DataProfile.summary`).
      previous: The serving model's training data's profile summary (empty without one).
    """

    action: str
    baseline: str
    figures: tuple[DriftFigure, ...] = ()
    note: str = ""
    current: dict = dataclasses.field(default_factory=dict)
    previous: dict = dataclasses.field(default_factory=dict)

    def drifted(self) -> list[DriftFigure]:
        return [f for f in self.figures if f.drifted]

    def stop_lines(self) -> list[str]:
        """One line per drifted figure: what moved, by how much, and what to do."""
        return [
            f"drift: {f.name} moved {f.value:.4f} by {f.method}, above {f.setting} {f.threshold:g}; look at this "
            f"span's data, or accept it: raise {f.setting} or set drift.action=warn"
            for f in self.drifted()
        ]

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> DriftReport:
        data = json.loads(text)
        return cls(**{**data, "figures": tuple(DriftFigure(**f) for f in data["figures"])})


def compare(current: DataProfile, previous: DataProfile, config: DriftConfig, saved_model_dir: str) -> DriftReport:
    """Every drift figure of `current` against `previous` (the serving model's training data).

    TFDV's own comparators measure the label distribution (L-infinity) and the length in word
    pieces (Jensen-Shannon), called directly (tfdv.validate_statistics with previous statistics)
    rather than through TFX's DistributionValidator: its baseline statistics would have to come
    through a resolver, and Kubeflow's compiler accepts only TFX's stock ones, while the serving
    model's training profile travels inside the model (retraining/model_record.py) everywhere.

    Args:
      current: This run's train split.
      previous: The serving model's train split.
      config: The thresholds.
      saved_model_dir: The serving model, whose encoder embeds both samples for the meaning test.

    Returns:
      The report.
    """
    measured = _tfdv_drift(current, previous, config)
    figures = [
        DriftFigure(
            "label distribution", "L-infinity distance (TFDV)", measured.get(LABEL), config.max_label_linf,
            "drift.max_label_linf",
        ),
        DriftFigure(
            "text length in word pieces", "Jensen-Shannon divergence (TFDV)", measured.get(WORD_PIECES),
            config.max_length_js, "drift.max_length_js",
        ),
        DriftFigure(
            "share of [UNK] word pieces", "absolute change", round(abs(current.unk_share - previous.unk_share), 6),
            config.max_unk_change, "drift.max_unk_change",
        ),
        DriftFigure(
            "share of truncated texts", "absolute change",
            round(abs(current.truncated_share - previous.truncated_share), 6), config.max_truncated_change,
            "drift.max_truncated_change",
        ),
        _meaning_figure(current, previous, config, saved_model_dir),
    ]  # fmt: skip
    return DriftReport(config.action, saved_model_dir, tuple(figures), "", current.summary(), previous.summary())


def _tfdv_drift(current: DataProfile, previous: DataProfile, config: DriftConfig) -> dict[str, float]:
    import tensorflow_data_validation as tfdv

    now, before = current.statistics(), previous.statistics()
    schema = tfdv.infer_schema(before)
    tfdv.get_feature(schema, LABEL).drift_comparator.infinity_norm.threshold = config.max_label_linf
    tfdv.get_feature(schema, WORD_PIECES).drift_comparator.jensen_shannon_divergence.threshold = config.max_length_js
    anomalies = tfdv.validate_statistics(now, schema, previous_statistics=before)
    return {
        info.path.step[0]: round(float(m.value), 6)
        for info in anomalies.drift_skew_info
        for m in info.drift_measurements
    }


def _meaning_figure(current: DataProfile, previous: DataProfile, config: DriftConfig, saved_model_dir: str):
    name, method, setting = "meaning (sentence embeddings)", "two-sample classifier AUC", "drift.max_meaning_auc"
    try:
        auc = meaning.two_sample_auc(
            meaning.embed(saved_model_dir, previous.sample), meaning.embed(saved_model_dir, current.sample)
        )
    except (LookupError, ValueError) as e:
        return DriftFigure(name, method, None, config.max_meaning_auc, setting, note=str(e))
    return DriftFigure(name, method, auc, config.max_meaning_auc, setting)
