"""Model code: BERT encoder, classifier, training and export; no TFX orchestration."""
