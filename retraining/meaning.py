"""Meaning drift: can the serving model's own sentence embeddings tell two data sets apart?

A classifier two-sample test (Lopez-Paz & Oquab, 2017): a logistic regression learns to tell
the serving model's training sample from this run's, and its cross-validated AUC is the
figure. 0.5 means the encoder sees the two as one population; towards 1.0 they mean different
things, even when lengths and label shares stay put. scikit-learn comes with TFMA already.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from configs import features

# Cross-validation folds of the test (each text is scored by a model that did not see it).
_FOLDS = 5


def embed(saved_model_dir: str, sample: Mapping[str, np.ndarray], batch_size: int = 64) -> np.ndarray:
    """Sentence embeddings of token-id rows by a SavedModel edgeline exported (its `embed_ids` function)."""
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers the tokenizer ops the SavedModel's graph holds)

    loaded = tf.saved_model.load(saved_model_dir)
    if not hasattr(loaded, "embed_ids"):
        raise LookupError(f"{saved_model_dir} has no embed_ids function (exported before edgeline measured drift)")
    count = len(sample[features.INPUT_WORD_IDS])
    rows = []
    for start in range(0, count, batch_size):
        args = [tf.constant(sample[name][start : start + batch_size], tf.int64) for name in features.MODEL_INPUTS]
        rows.append(loaded.embed_ids(*args).numpy())
    return np.concatenate(rows) if rows else np.zeros((0, 0), np.float32)


def two_sample_auc(before: np.ndarray, after: np.ndarray, seed: int = 0) -> float:
    """Cross-validated AUC of a logistic regression telling `after`'s rows from `before`'s.

    Args:
      before: Embeddings of the serving model's training sample, [n, d].
      after: Embeddings of this run's sample, [m, d].
      seed: Seed of the folds.

    Returns:
      The AUC in [0, 1]; about 0.5 for samples of one population.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = np.concatenate([before, after]).astype(np.float64)
    y = np.concatenate([np.zeros(len(before)), np.ones(len(after))])
    folds = min(_FOLDS, len(before), len(after))
    if folds < 2:
        raise ValueError(f"the meaning test needs at least 2 texts a side, got {len(before)} and {len(after)}")
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=1000))
    scores = cross_val_predict(
        model, x, y, cv=StratifiedKFold(folds, shuffle=True, random_state=seed), method="predict_proba"
    )[:, 1]
    return round(float(roc_auc_score(y, scores)), 4)
