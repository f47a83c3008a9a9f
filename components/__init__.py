"""TFX components and configs edgeline adds to the stock ones."""

# On Kubeflow, TFX's entrypoint rebuilds an output artifact from its schema title, the
# type's TYPE_NAME `components.EdgeModels`, by importing that path: it must resolve here.
from components.edge_export import EdgeModels

__all__ = ["EdgeModels"]
