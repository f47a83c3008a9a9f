"""Device models of the trained classifier: TFLite variants, their scoring, the gate and the reports."""
