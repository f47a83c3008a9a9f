"""Compiling and submitting the edgeline pipeline for Kubeflow Pipelines."""
