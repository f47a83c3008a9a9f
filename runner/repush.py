"""A blessed candidate whose push came from the cache while another model serves: finding it and pushing it again.

TFX caches Pusher on its inputs, the candidate and its blessing. After runs A
(M1 pushed), B (M2 pushed against M1) and A again (M1 pushed again), rerunning B
resolves the same baseline as run 2 (M1), so Evaluator and Pusher both come
from run 2's cache: the cached push says "M2 pushed", yet M1 is serving. The
cache cannot see that a later push superseded the one it recorded, so after
such a run the pipeline runs once more with Pusher's cache turned off (TFX's
per-node `caching_options`); every other node is cached from the run just
finished, and EdgeExport follows the new push.

The edge variants have the same hazard inside one serving version: runs A, B
(another `student.temperature`: StudentExport pushes B's student into
`edge/<version>/`) and A again (StudentExport from A's cache) would leave B's
files beside a report that names A's. Each pushing component records a digest
of the files it committed (`edge.push.owned_digest`); a cached one whose files
no longer match runs again with its cache off.
"""

from __future__ import annotations

from typing import Any

from results import metadata_store

PUSHER = "Pusher"
# The components that push into `edge/<version>/`: their output key and the files each owns there.
EDGE_PUSHERS = {"EdgeExport": ("edge_models", "teacher_file"), "StudentExport": ("student_models", "student_file")}


def stale_cached_pushes(metadata_path: str) -> dict[str, str]:
    """The newest run's cached pushing nodes whose push is not what serves, with a one-line reason each."""
    store = metadata_store.open_store(metadata_path)
    nodes = metadata_store.latest_run(store)
    stale = {}
    if reason := stale_cached_push(store, nodes):
        stale[PUSHER] = reason
    stale.update(stale_edge_pushes(nodes))
    return stale


def stale_edge_pushes(nodes: dict) -> dict[str, str]:
    """EdgeExport / StudentExport from the cache whose files in `edge/<version>/` another run has replaced since.

    Args:
      nodes: The newest run's executions by component id (`metadata_store.latest_run`).
    """
    from edge import push

    stale = {}
    for node_id, (key, owns) in EDGE_PUSHERS.items():
        node = nodes.get(node_id)
        if node is None or node.state != "CACHED" or len(node.outputs.get(key, [])) != 1:
            continue
        (artifact,) = node.outputs[key]
        properties = artifact.custom_properties
        if "pushed_digest" not in properties or "push_target" not in properties:
            continue  # nothing was to be pushed (not blessed), or an artifact from before the digest
        target = properties["push_target"].string_value
        if push.owned_digest(target, getattr(push, owns)) != properties["pushed_digest"].string_value:
            stale[node_id] = f"{target} no longer holds the files of its cached push (a later run replaced them)"
    return stale


def stale_cached_push(store, nodes: dict) -> str | None:
    """Why the newest run must push again, or None when what serves is what its gate passed.

    Args:
      store: The run's ML Metadata store.
      nodes: Its newest run's executions by component id (`metadata_store.latest_run`).

    Returns:
      A one-line reason when the newest run's Pusher came from the cache, its
      candidate is blessed, and the newest push in the store is another model's.
    """
    # Imported here: the components package loads TFX and TensorFlow, which must start inside
    # the runner's quiet context (runner/console.py), after the run's first line.
    from components import baseline

    pusher, trainer = nodes.get(PUSHER), nodes.get("Trainer")
    if pusher is None or trainer is None or pusher.state != "CACHED":
        return None
    (cached_push,) = pusher.outputs["pushed_model"]
    if cached_push.custom_properties["pushed"].int_value != 1:
        return None  # not blessed: nothing was to be pushed
    (candidate,) = trainer.outputs["model"]
    serving = _serving_push(store)
    if serving is None or serving.id == cached_push.id:
        return None
    serving_model = baseline.pushed_model_id(store, serving)
    if serving_model == candidate.id:
        return None  # the same model was pushed again later: it serves
    return (
        f"the blessed candidate's push came from the cache "
        f"({cached_push.custom_properties['pushed_destination'].string_value}), but "
        f"{serving.custom_properties['pushed_destination'].string_value} was pushed since and serves"
    )


def _serving_push(store):
    """The newest PushedModel that pushed (artifact ids grow with registration order), or None."""
    pushes = [a for a in store.get_artifacts_by_type("PushedModel") if a.custom_properties["pushed"].int_value == 1]
    return max(pushes, key=lambda a: a.id) if pushes else None


def run_uncached(pipeline, node_ids) -> None:
    """Runs `pipeline` with LocalDagRunner, the cache of `node_ids` off and every other node's as configured."""
    from tfx import v1 as tfx
    from tfx.dsl.compiler import compiler

    ir = compiler.Compiler().compile(pipeline)
    for node in ir.nodes:
        if node.pipeline_node.node_info.id in node_ids:
            node.pipeline_node.execution_options.caching_options.enable_cache = False
    tfx.orchestration.LocalDagRunner().run_with_ir(ir)


def merge_passes(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per component over both passes: seconds summed, cached only when cached in both."""
    merged: dict[str, dict[str, Any]] = {}
    for row in components:
        if row["name"] in merged:
            seen = merged[row["name"]]
            seen["seconds"] = round(seen["seconds"] + row["seconds"], 2)
            seen["cached"] = seen["cached"] and row["cached"]
        else:
            merged[row["name"]] = dict(row)
    return list(merged.values())
