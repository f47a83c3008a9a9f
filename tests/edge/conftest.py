"""The tiny trained classifier and every edge variant converted from it, shared by tests/edge/."""

import numpy as np
import pytest

from configs import features, load_config
from edge import eval_data, rewrites, variants
from preprocessing import datasets
from preprocessing import tokenizer as tok
from tests.transform_utils import train_and_export
from trainers import bert_encoder

CONFIG = load_config("configs/tiny.yaml")
L = CONFIG.tokenizer.max_seq_length


@pytest.fixture(scope="session")
def built(tmp_path_factory, tiny_encoder):
    """Trains the tiny classifier on 200 real snippets, exports it, and converts every variant once."""
    rows = datasets.snippet_rows()
    rows = [(text, int(label)) for text, label in datasets.evenly_spaced(rows, 200)]
    root = tmp_path_factory.mktemp("edge")
    transformed, _, _, export_dir = train_and_export(rows, tiny_encoder, CONFIG, root)
    loaded = variants.load_saved_model(export_dir)
    assets = tok.assets_from_encoder(tiny_encoder)
    representative = {k: np.stack([np.asarray(r[k]) for r in transformed[:160]]) for k in features.MODEL_INPUTS}
    eval_rows = [r for i, r in enumerate(rows) if i % 5 == 0]
    data = eval_data.make_eval_data(loaded, [t for t, _ in eval_rows], np.array([y for _, y in eval_rows]), assets, L)
    architecture = bert_encoder.read_architecture(tiny_encoder)
    plain, plain_description = rewrites.graph("plain", loaded, representative, L, CONFIG.model.pooling, architecture)
    grouped, graph = rewrites.graph("grouped", loaded, representative, L, CONFIG.model.pooling, architecture)
    int16, int16_description = rewrites.graph("int16", loaded, representative, L, CONFIG.model.pooling, architecture)
    chosen = {"plain": plain, "grouped": grouped, "int16": int16}
    models = {}
    for variant in variants.VARIANTS:
        try:
            rewrite = chosen.get(variants.REWRITES.get(variant))
            models[variant] = variants.convert(variant, loaded, assets, L, representative, rewrite)
        except Exception as e:  # recorded so each variant's test reports its own failure
            models[variant] = e
    return {
        "loaded": loaded,
        "export_dir": export_dir,
        "assets": assets,
        "models": models,
        "eval": data,
        "root": root,
        "representative": representative,
        "grouped": grouped,
        "graph": graph,
        "int16": int16,
        "int16_description": int16_description,
        "plain": plain,
        "plain_description": plain_description,
        "architecture": architecture,
    }


def model_of(built, variant) -> bytes:
    model = built["models"][variant]
    if isinstance(model, Exception):
        raise model
    return model
