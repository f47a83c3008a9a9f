"""Baseline resolution: the latest blessed model other than the current candidate."""

from __future__ import annotations

from tfx.dsl.input_resolution.strategies import latest_blessed_model_strategy


class PreviousBlessedModelStrategy(latest_blessed_model_strategy.LatestBlessedModelStrategy):
    """Like LatestBlessedModelStrategy, but never returns the newest Model.

    The resolver runs after Trainer, so the newest Model is the candidate. With
    the stock strategy an unchanged rerun would compare the cached candidate with
    itself, re-run Evaluator and push it again; excluding it keeps the rerun's
    Evaluator and Pusher inputs identical, so both come from the cache.
    """

    def _resolve(self, input_dict, model_channel_key, model_blessing_channel_key):
        models = sorted(input_dict[model_channel_key], key=lambda a: a.id, reverse=True)
        trimmed = dict(input_dict)
        trimmed[model_channel_key] = models[1:]
        return super()._resolve(trimmed, model_channel_key, model_blessing_channel_key)
