"""Reading what a run produced: ML Metadata, TFMA's output, summary.json, the figures and the HTML report."""
