"""P3's kernel check: what LiteRT's XNNPACK GEMMs do on this CPU, fp32 against int8, at MiniLM's shapes.

Every pushed MiniLM variant spends most of its time in XNNPACK's GEMM micro-kernels
(a native py-spy profile of P3's loop: 64% of dynamic_range's samples in
`xnn_qd8_f32_qc8w_gemm_*`, 62% of int8's in `xnn_qs8_qc8w_gemm_*`, 79% of
float32's in `xnn_f32_gemm_*`). How much faster int8 can be than fp32 is then a
property of the CPU: with AVX-512 VNNI or ARM dot-product instructions XNNPACK's int8
kernels run several times faster than fp32; with AVX2 alone they multiply in 16-bit
lanes and gain little. This measures that ratio directly, on the FFN shapes of the
encoder ([64, 384] x [384, 1536] and back, six layers), so P3's variant speedups can
be read against what the hardware allows.
"""

from __future__ import annotations

import pathlib

import numpy as np

from bench.timing import LATENCY_CALLS, per_call_ms, spread

_SEQ, _HIDDEN, _FFN, _LAYERS = 64, 384, 1536, 6
_FLOPS = _LAYERS * 2 * (2 * _SEQ * _HIDDEN * _FFN)


def cpu_features() -> list[str]:
    """The vector-instruction flags of this CPU that decide XNNPACK's kernels (Linux /proc/cpuinfo)."""
    cpuinfo = pathlib.Path("/proc/cpuinfo")
    if not cpuinfo.exists():
        return []
    flags = next((line.split(":", 1)[1].split() for line in cpuinfo.read_text().splitlines() if "flags" in line), [])
    wanted = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8", "asimddp", "i8mm")
    return [f for f in wanted if f in flags]


def _ffn_models() -> dict[str, bytes]:
    """The same six FFN blocks as float32, dynamic-range (int8 weights) and full-int8 .tflite files."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    up = tf.constant(rng.normal(0, 0.05, (_HIDDEN, _FFN)).astype(np.float32))
    down = tf.constant(rng.normal(0, 0.05, (_FFN, _HIDDEN)).astype(np.float32))

    @tf.function(input_signature=[tf.TensorSpec([_SEQ, _HIDDEN], tf.float32)])
    def ffn(x):
        for _ in range(_LAYERS):
            x = tf.matmul(tf.nn.relu(tf.matmul(x, up)), down)
        return x

    def representative():
        for _ in range(8):
            yield [rng.normal(0, 1, (_SEQ, _HIDDEN)).astype(np.float32)]

    models = {}
    for name in ("float32", "dynamic_range", "int8"):
        converter = tf.lite.TFLiteConverter.from_concrete_functions([ffn.get_concrete_function()], ffn)
        if name != "float32":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if name == "int8":
            converter.representative_dataset = representative
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        models[name] = converter.convert()
    return models


def kernel_rates(repeats: int, threads: int = 1) -> dict:
    """GFLOP/s of the FFN stack in LiteRT per numeric type, and int8's rate over fp32's (medians of `repeats`)."""
    from ai_edge_litert.interpreter import Interpreter

    x = np.random.default_rng(1).normal(0, 1, (_SEQ, _HIDDEN)).astype(np.float32)
    rates: dict[str, list[float]] = {}
    for name, model in _ffn_models().items():
        interpreter = Interpreter(model_content=model, num_threads=threads)
        interpreter.allocate_tensors()
        index = interpreter.get_input_details()[0]["index"]

        def call(_i, interpreter=interpreter, index=index):
            interpreter.set_tensor(index, x)
            interpreter.invoke()

        rates[name] = [_FLOPS / per_call_ms(call, LATENCY_CALLS) / 1e6 for _ in range(repeats)]
    out = {f"{name}_gflops": spread(values, 1) for name, values in rates.items()}
    for name in ("dynamic_range", "int8"):
        out[f"{name}_over_float32"] = spread([a / b for a, b in zip(rates[name], rates["float32"], strict=True)], 2)
    out["cpu_features"] = cpu_features()
    out["threads"] = threads
    return out
