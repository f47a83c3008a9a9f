"""Op-by-op Edge TPU compatibility report of a .tflite model, and the compiler's verdict when it is installed."""

from __future__ import annotations

import pathlib
import posixpath
import re
import shutil
import subprocess

from common import artifact_io

# The Edge TPU's supported operations and their documented limits, from Coral's
# "TensorFlow models on the Edge TPU" page, section "Supported operations"
# (https://coral.ai/docs/edgetpu/models-intro/#supported-operations, compiler v16).
# Keys are TFLite builtin operator names as they appear in the flatbuffer.
SUPPORTED_OPS: dict[str, str] = {
    "ADD": "",
    "AVERAGE_POOL_2D": "no fused activation function",
    "CONCATENATION": "no fused activation; a constant input must be all zeros and the only other input",
    "CONV_2D": "",
    "DEPTHWISE_CONV_2D": "dilated conv kernels only for depth multiplier 1",
    "EXPAND_DIMS": "",
    "FULLY_CONNECTED": "only the default weights format; output tensor is one-dimensional",
    "L2_NORMALIZATION": "",
    "LOGISTIC": "",
    "LSTM": "unidirectional LSTM only",
    "MAXIMUM": "",
    "MAX_POOL_2D": "no fused activation function",
    "MEAN": "no reduction in the batch dimension; x and/or y dimensions only",
    "MINIMUM": "",
    "MUL": "",
    "PACK": "no packing in the batch dimension",
    "PAD": "no padding in the batch dimension; x and/or y dimensions only",
    "PRELU": "alpha must be constant",
    "QUANTIZE": "",
    "REDUCE_MAX": "no reduction in the batch dimension",
    "REDUCE_MIN": "no reduction in the batch dimension",
    "RELU": "",
    "RELU6": "",
    "RELU_N1_TO_1": "",
    "RESHAPE": "certain reshapes may not map for large tensor sizes",
    "RESIZE_BILINEAR": "input/output is 3-dimensional; may stay on CPU to avoid precision loss",
    "RESIZE_NEAREST_NEIGHBOR": "input/output is 3-dimensional",
    "RSQRT": "",
    "SLICE": "",
    "SOFTMAX": "1-D input tensor with at most 16,000 elements",
    "SPACE_TO_DEPTH": "",
    "SPLIT": "no splitting in the batch dimension",
    "SQUARED_DIFFERENCE": "",
    "SQUEEZE": "",
    "STRIDED_SLICE": "strides 1 (effectively a slice); no ellipsis or new-axis masks",
    "SUB": "",
    "SUM": "no reduction in the batch dimension",
    "TANH": "",
    "TRANSPOSE": "",
    "TRANSPOSE_CONV": "",
}
# Requirements the same page states for every tensor of a mapped op.
GENERAL_CONSTRAINTS = (
    "tensors are 8-bit quantized (int8/uint8); int32 only for biases and shape/index constants",
    "tensor shapes are static (known at compile time)",
    "at most 3 innermost dimensions larger than 1",
    "the compiler maps one contiguous subgraph: the first op that cannot map sends it and all later ops to the CPU",
)


def _op_names(model) -> dict[int, str]:
    from tensorflow.lite.python import schema_py_generated as schema

    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    out = {}
    for i, code in enumerate(model.operatorCodes):
        builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
        if builtin == schema.BuiltinOperator.CUSTOM:
            custom = code.customCode.decode() if isinstance(code.customCode, bytes) else code.customCode
            out[i] = f"CUSTOM:{custom}"
        else:
            out[i] = names.get(builtin, str(builtin))
    return out


def _tensor_problems(model, subgraph, index: int, is_weight: bool) -> list[str]:
    from tensorflow.lite.python import schema_py_generated as schema

    tensor = subgraph.tensors[index]
    name = tensor.name.decode() if isinstance(tensor.name, bytes) else tensor.name
    problems = []
    eight_bit = (schema.TensorType.INT8, schema.TensorType.UINT8)
    allowed = eight_bit + ((schema.TensorType.INT32,) if is_weight else ())
    if tensor.type not in allowed:
        type_name = {v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_")}.get(tensor.type)
        problems.append(f"tensor {name!r} is {type_name}, not 8-bit")
    shape = list(tensor.shape) if tensor.shape is not None else []
    signature = list(tensor.shapeSignature) if tensor.shapeSignature is not None else shape
    if any(d < 0 for d in signature):
        problems.append(f"tensor {name!r} has a dynamic shape {signature}")
    # The rank limit is on activations: a CONV_2D filter is [out, h, w, in] on every Edge TPU model.
    if not is_weight and sum(1 for d in shape[:-3] if d > 1) > 0:
        problems.append(f"tensor {name!r} shape {shape} has more than 3 innermost dimensions larger than 1")
    return problems


def analyze(model_bytes: bytes) -> dict:
    """Checks every op of the main subgraph against the Edge TPU's documented limits.

    The checks are the documented ones a flatbuffer shows (op type, tensor types,
    static shapes, rank); op-specific limits are listed as `constraints` for a
    reader, not verified. Only `edgetpu_compiler` gives the final answer.

    Args:
      model_bytes: A .tflite flatbuffer.

    Returns:
      `ops` (one entry per op in execution order: index, op, supported,
      constraints, problems), `num_ops`, `num_mappable` (ops that pass the
      checks), `num_mapped_prefix` (ops before the first one that cannot map,
      i.e. what one contiguous Edge TPU subgraph could hold), `first_cpu_op`
      (that op, or None), `unsupported_op_types` and `general_constraints`.
    """
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(model_bytes))
    subgraph = model.subgraphs[0]
    names = _op_names(model)
    constant = {i for i, t in enumerate(subgraph.tensors) if model.buffers[t.buffer].data is not None}
    ops, first_cpu = [], None
    for index, op in enumerate(subgraph.operators):
        name = names[op.opcodeIndex]
        problems = []
        if name not in SUPPORTED_OPS:
            problems.append(f"{name} is not on the Edge TPU's supported-operation list")
        for tensor_index in [
            *(op.inputs if op.inputs is not None else []),
            *(op.outputs if op.outputs is not None else []),
        ]:
            if tensor_index >= 0:
                problems.extend(_tensor_problems(model, subgraph, int(tensor_index), int(tensor_index) in constant))
        entry = {
            "index": index,
            "op": name,
            "supported": name in SUPPORTED_OPS,
            "constraints": SUPPORTED_OPS.get(name, "not supported"),
            "problems": problems,
        }
        ops.append(entry)
        if problems and first_cpu is None:
            first_cpu = {"index": index, "op": name, "problems": problems}
    mappable = sum(1 for o in ops if not o["problems"])
    return {
        "num_ops": len(ops),
        "num_mappable": mappable,
        "num_mapped_prefix": first_cpu["index"] if first_cpu else len(ops),
        "first_cpu_op": first_cpu,
        "unsupported_op_types": sorted({o["op"] for o in ops if not o["supported"]}),
        "general_constraints": list(GENERAL_CONSTRAINTS),
        "source": "https://coral.ai/docs/edgetpu/models-intro/#supported-operations",
        "ops": ops,
    }


def compile_model(model_path: str | pathlib.Path, out_dir: str | pathlib.Path) -> dict:
    """Runs `edgetpu_compiler` when it is on PATH and keeps its model and log.

    Returns:
      `{"compiler": "not found"}`, or the compiler's path, return code, log file,
      compiled model path and its "operations that will run on Edge TPU" count.
    """
    compiler = shutil.which("edgetpu_compiler")
    if compiler is None:
        return {"compiler": "not found", "note": "edgetpu_compiler is not on PATH; the op report above is static"}
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [compiler, "--show_operations", "--out_dir", str(out_dir), str(model_path)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    log = out_dir / "edgetpu_compiler.log"
    log.write_text(result.stdout + result.stderr)
    match = re.search(r"Number of operations that will run on Edge TPU:\s*(\d+)", result.stdout)
    compiled = next(iter(out_dir.glob("*_edgetpu.tflite")), None)
    return {
        "compiler": compiler,
        "returncode": result.returncode,
        "log": str(log),
        "compiled_model": str(compiled) if compiled else None,
        "ops_on_edgetpu": int(match.group(1)) if match else None,
    }


def report(model_bytes: bytes, work_dir: str | pathlib.Path | None = None) -> dict:
    """`analyze` plus `compile_model` on the same bytes.

    Args:
      model_bytes: A .tflite flatbuffer.
      work_dir: Where the model, the compiler's log and its compiled model are kept
        (an artifact URI on any tf.io.gfile filesystem); None keeps nothing.
    """
    result = analyze(model_bytes)
    # edgetpu_compiler is another program: it reads and writes local files only, so it
    # works in a local temp dir whose files are then copied to `work_dir`.
    with artifact_io.local_dir("edgeline-edgetpu-") as local:
        path = local / "edgetpu.tflite"
        artifact_io.write_bytes(path, model_bytes)
        compiler = compile_model(path, local)
        if work_dir:
            artifact_io.copy_out(local, work_dir)
            for key in ("log", "compiled_model"):
                if compiler.get(key):
                    compiler[key] = artifact_io.join(work_dir, posixpath.basename(compiler[key]))
    result["compiler"] = compiler
    return result


def summarize(result: dict) -> str:
    """One line for logs and the markdown report."""
    first = result["first_cpu_op"]
    where = f"first CPU op #{first['index']} {first['op']}: {first['problems'][0]}" if first else "every op can map"
    return (
        f"{result['num_mappable']}/{result['num_ops']} ops pass the Edge TPU checks; "
        f"a contiguous Edge TPU subgraph could hold {result['num_mapped_prefix']}; {where}"
    )
