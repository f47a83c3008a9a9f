"""The local runner: one run with LocalDagRunner, its run directory, its console, the cached-push repair."""
