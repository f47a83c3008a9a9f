"""TFX components and configs edgeline adds to the stock ones."""
