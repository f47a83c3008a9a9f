"""The `edgeline` command, above every other package."""
