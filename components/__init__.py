"""TFX components and configs edgeline adds to the stock ones."""

# On Kubeflow, TFX's entrypoint rebuilds an output artifact from its schema title, the
# type's TYPE_NAME (`components.EdgeModels`, `components.StudentModel`), by importing that
# path: it must resolve here.
from components.distill import StudentModel
from components.drift_check import DataDrift
from components.edge_export import EdgeModels

__all__ = ["DataDrift", "EdgeModels", "StudentModel"]
