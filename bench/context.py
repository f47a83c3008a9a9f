"""What every benchmark reads from one finished run: its summary, SavedModel, tokenizer assets and eval split."""

from __future__ import annotations

import json
import pathlib
from collections.abc import Callable

ROOT = pathlib.Path(__file__).resolve().parent.parent


def shown_path(path: pathlib.Path | str) -> str:
    """`path` as results name it: relative to the repository, else the run directory's own name.

    Results are committed, so they must not carry the measuring machine's absolute paths.
    """
    path = pathlib.Path(path).resolve()
    try:
        return path.relative_to(ROOT).as_posix()
    except ValueError:
        return path.name


class Bench:
    """Holds what every row reads: the run's summary, its SavedModel and its eval split."""

    def __init__(self, run_dir: pathlib.Path, repeats: int, out: Callable[[str], None]):
        import numpy as np

        from edge import variants
        from preprocessing import tokenizer as tok
        from results import metadata_store

        self.run_dir = run_dir
        self.repeats = repeats
        self.peers = True  # P3 also times the ONNX Runtime / PyTorch peers (bench/p3_peers.py)
        self.out = out
        self.summary = json.loads((run_dir / "summary.json").read_text())
        self.config = self.summary["config"]
        self.saved_model_dir = pathlib.Path(self.summary["latest_pushed_model"])
        self.loaded = variants.load_saved_model(str(self.saved_model_dir))
        self.max_seq_length = int(self.config["tokenizer"]["max_seq_length"])
        from trainers import encoder_builder

        self.assets = tok.assets_from_encoder(encoder_builder.ensure_encoder(self.config["model"]["encoder"]))
        from edge import examples
        from trainers.export import read_class_names

        store = metadata_store.open_store(metadata_store.RunPaths(run_dir).metadata)
        nodes = metadata_store.latest_run(store)
        (eval_examples,) = nodes["CsvExampleGen"].outputs["examples"]
        self.examples_uri = pathlib.Path(eval_examples.uri)
        self.eval_files = examples.split_files(str(self.examples_uri / "Split-eval"))
        self.class_names = read_class_names(str(self.saved_model_dir))
        # Class indices, mapped as the Trainer maps labels.
        self.eval_texts, self.eval_labels = examples.eval_rows(
            self.eval_files, self.config["data"]["text_column"], self.config["data"]["label_column"], self.class_names
        )
        self.np = np

    def text_batch(self, i: int, size: int) -> list[str]:
        n = len(self.eval_texts)
        return [self.eval_texts[(i * size + j) % n] for j in range(size)]
