"""Answering with and serving what a run pushed: `edgeline predict` and `edgeline serve-web`."""
