"""The edgeline pipeline definition, its local runner and the `edgeline` command."""
