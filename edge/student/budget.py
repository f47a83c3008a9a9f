"""Sizing the student to student_micro's budgets before training: its flatbuffer and arena predicted from shapes."""

from __future__ import annotations

import dataclasses

import numpy as np

from configs.config import StudentConfig

# The flatbuffer's bytes besides its weight buffers and quantization parameters: the schema's
# tables, tensor and operator entries and the converter's tensor names. Measured on converted
# trained students (TF 2.16's converter, the layer names edge/student/model.py sets; an untrained
# one is 488 B smaller, the converter drops its all-zero dense bias): a fixed part, and a part per
# convolution (its tensors, operator and names; a separable one has two operators) and per
# pooling between two convolutions. Checked against built files in tests/edge/test_student.py.
_FIXED_BYTES = 2572
_CONV_BYTES = 548
_SEPARABLE_CONV_BYTES = 1168
_POOL_BYTES = 196
# Each quantization parameter is a float32 scale and an int64 zero point.
_QUANT_PAIR_BYTES = 12
# Tensors with one scale: the table, the lookup's output, the reshapes, the sequence pooling, the
# dense weights, bias and output, the softmax; each convolution's output and each pooling's.
_PER_TENSOR_PAIRS = 8
# TFLM's arena beside the activations: per-channel multipliers and shifts (two int32 per output
# channel of a convolution) and the interpreter's own structures (measured, 64-bit host build).
_ARENA_FIXED_BYTES = 2624
_ARENA_PER_CHANNEL_BYTES = 8
# Narrowest embedding the sizing goes down to, and its step.
_MIN_WIDTH = 8
_WIDTH_STEP = 8
# Smallest number of convolution channels the arena sizing goes down to.
_MIN_FILTERS = 8
# Cut the table before the width as long as the cut sends at most this share of the train split's
# pieces to [UNK] (besides those below `min_piece_count`): beyond it, a narrower embedding for
# every piece beats [UNK] for many.
_MAX_CUT_SHARE = 0.05


def predicted_flash_bytes(config: StudentConfig, rows: int, width: int, filters: int, num_classes: int) -> int:
    """student_micro's flatbuffer size from its table and layer shapes (within 1% of the built file).

    Args:
      config: The `student` settings (kernel, convolutions, pooling, separable).
      rows: Rows of the embedding table (the student's vocabulary).
      width: Embedding width.
      filters: Channels of each convolution.
      num_classes: Classes.

    Returns:
      Bytes.
    """
    k, n = config.kernel_size, config.conv_layers
    pools = n - 1 if config.downsample > 1 else 0
    weights = rows * width + num_classes * filters + 4 * num_classes + 4
    channels = 0  # per-channel quantization pairs
    inputs = width
    for _ in range(n):
        if config.separable:
            weights += k * inputs + filters * inputs + 4 * filters  # the depthwise kernel has no bias
            channels += 2 * inputs + 2 * filters
        else:
            weights += filters * k * inputs + 4 * filters
            channels += 2 * filters
        inputs = filters
    per_tensor = _PER_TENSOR_PAIRS + (2 * n if config.separable else n) + pools
    layers = n * (_SEPARABLE_CONV_BYTES if config.separable else _CONV_BYTES) + pools * _POOL_BYTES
    return weights + _QUANT_PAIR_BYTES * (channels + per_tensor) + _FIXED_BYTES + layers


def predicted_arena_bytes(config: StudentConfig, max_seq_length: int, width: int, filters: int) -> int:
    """student_micro's tensor arena from its activation shapes: the largest input and output alive at once."""
    length = max_seq_length
    live = [4 * length + length * width, length * width + length * filters]  # ids -> lookup -> first convolution
    for _ in range(1, config.conv_layers):
        if config.downsample > 1:
            shorter = -(-length // config.downsample)
            live.append(length * filters + shorter * filters)
            length = shorter
        live.append(2 * length * filters)
    channels = config.conv_layers * filters * (2 if config.separable else 1)
    return max(live) + _ARENA_PER_CHANNEL_BYTES * channels + _ARENA_FIXED_BYTES


@dataclasses.dataclass(frozen=True)
class Sizing:
    """What the budgets leave the student.

    Attributes:
      rows: Table rows kept (specials included).
      width: Embedding width.
      filters: Channels of each convolution.
      candidates: Rows the vocabulary would have without the flash budget (`min_piece_count`).
      unk_share: Share of the train split's word pieces (specials excluded) that map to [UNK].
      predicted_flash_bytes: student_micro's flatbuffer, predicted.
      predicted_arena_bytes: Its arena, predicted.
      cut: What the budgets cut, in words ("" when nothing).
      micro_misfit: Why student_micro is not built ("" when it fits): its flash budget cannot hold a
        useful student, so the student is sized without its budgets and the other variants keep it.
    """

    rows: int
    width: int
    filters: int
    candidates: int
    unk_share: float
    predicted_flash_bytes: int
    predicted_arena_bytes: int
    cut: str
    micro_misfit: str = ""

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


def size(
    config: StudentConfig,
    counts: np.ndarray,
    total_pieces: int,
    specials: int,
    max_seq_length: int,
    num_classes: int,
) -> Sizing:
    """Rows, width and filters that fit `max_flash_bytes * (1 - flash_margin)` and `max_arena_bytes`.

    The budgets are student_micro's: without it in `config.variants` nothing is cut. Filters are
    halved until the predicted arena fits, and until the convolutions take at most half the flash
    budget. Then the table keeps the most frequent pieces first: all of `counts` when they fit;
    else as many as fit, as long as the cut sends at most `_MAX_CUT_SHARE` of the train pieces to
    [UNK]; else the embedding narrows by 8, then the filters halve, and the cut is tried again.
    When even the narrowest student needs a larger cut, student_micro does not fit
    (`Sizing.micro_misfit` names the smallest budget that does) and nothing is cut for the others.

    Args:
      config: The `student` settings.
      counts: [candidates] train-split counts of the pieces that passed `min_piece_count`,
        most frequent first (the specials excluded).
      total_pieces: Word pieces in the train split, specials excluded (the [UNK] share's denominator).
      specials: Rows the table keeps whatever the budget ([PAD], [UNK], ...).
      max_seq_length: L.
      num_classes: Classes.

    Returns:
      The sizing.
    """
    counts = np.asarray(counts, np.int64)
    total = max(1, int(total_pieces))
    unlimited = _Shape(len(counts), config.embedding_dim, config.filters)
    if "student_micro" not in config.variants:
        return _sizing(config, unlimited, counts, total, specials, max_seq_length, num_classes, [])
    filters = _arena_filters(config, max_seq_length)
    cuts = []
    if filters != config.filters:
        arena = predicted_arena_bytes(config, max_seq_length, config.embedding_dim, filters)
        cuts.append(
            f"filters {config.filters} -> {filters} (arena {arena:,} B predicted, "
            f"student.max_arena_bytes {config.max_arena_bytes:,})"
        )
    budget = int(config.max_flash_bytes * (1.0 - config.flash_margin))
    shape = _fit_flash(config, counts, total, specials, budget, filters, num_classes)
    if not _useful(shape, counts, total, specials):
        smallest = smallest_flash_budget(config, counts, total, specials, max_seq_length, num_classes)
        misfit = (
            f"student_micro not built: student.max_flash_bytes {config.max_flash_bytes:,} cannot hold a useful "
            f"student (even {shape.width} wide with {shape.filters} filters its table would send more than "
            f"{100 * _MAX_CUT_SHARE:g}% of the train pieces to [UNK]); the smallest budget that fits is {smallest:,} B"
        )
        return _sizing(config, unlimited, counts, total, specials, max_seq_length, num_classes, [], misfit)
    if shape.filters != filters:
        conv = predicted_flash_bytes(config, 0, shape.width, shape.filters, num_classes)
        cuts.append(f"filters {filters} -> {shape.filters} (convolutions {conv:,} B of the {budget:,} B flash budget)")
    if shape.width != config.embedding_dim:
        cuts.append(f"embedding {config.embedding_dim} -> {shape.width} wide")
    if shape.kept < len(counts):
        unk = 1.0 - float(counts[: shape.kept].sum()) / total
        cuts.append(
            f"kept {shape.kept:,} of {len(counts):,} pieces seen at least {config.min_piece_count} times; "
            f"{100 * unk:.1f}% of train pieces now [UNK]"
        )
    return _sizing(config, shape, counts, total, specials, max_seq_length, num_classes, cuts)


def smallest_flash_budget(
    config: StudentConfig, counts: np.ndarray, total_pieces: int, specials: int, max_seq_length: int, num_classes: int
) -> int:
    """The smallest `max_flash_bytes` for which `size` keeps student_micro: its narrowest student, cut at most
    `_MAX_CUT_SHARE`, plus `flash_margin` (arguments as for `size`)."""
    counts = np.asarray(counts, np.int64)
    width = _narrowest_width(config.embedding_dim)
    filters = _narrowest_filters(_arena_filters(config, max_seq_length))
    dropped = np.concatenate([np.cumsum(counts[::-1])[::-1], [0]])  # dropped[k]: pieces cut when k are kept
    kept = int(np.argmax(dropped <= _MAX_CUT_SHARE * max(1, int(total_pieces))))
    kept = min(len(counts), max(kept, width - specials))
    needed = predicted_flash_bytes(config, specials + kept, width, filters, num_classes)
    smallest = int(np.ceil(needed / (1.0 - config.flash_margin)))
    while int(smallest * (1.0 - config.flash_margin)) < needed:  # float rounding in `size`'s budget
        smallest += 1
    return smallest


@dataclasses.dataclass(frozen=True)
class _Shape:
    kept: int
    width: int
    filters: int


def _arena_filters(config: StudentConfig, max_seq_length: int) -> int:
    """`config.filters` halved until the predicted arena fits (not below `_MIN_FILTERS`)."""
    filters = config.filters
    while predicted_arena_bytes(config, max_seq_length, config.embedding_dim, filters) > config.max_arena_bytes:
        if filters // 2 < _MIN_FILTERS:
            break
        filters //= 2
    return filters


def _narrowest_width(width: int) -> int:
    return width - _WIDTH_STEP * max(0, (width - _MIN_WIDTH) // _WIDTH_STEP)


def _narrowest_filters(filters: int) -> int:
    while filters // 2 >= _MIN_FILTERS:
        filters //= 2
    return filters


def _fit_flash(
    config: StudentConfig,
    counts: np.ndarray,
    total: int,
    specials: int,
    budget: int,
    filters: int,
    num_classes: int,
) -> _Shape:
    """The widest table within `budget`: filters, then the cut, then width, then filters again."""
    width = config.embedding_dim
    # The convolutions' weights do not grow with the vocabulary: past half the budget they would
    # leave a table too small to be worth cutting (at the defaults 128 filters alone are 126 KB).
    while predicted_flash_bytes(config, 0, width, filters, num_classes) > budget // 2 and filters // 2 >= _MIN_FILTERS:
        filters //= 2
    while True:
        fixed = predicted_flash_bytes(config, 0, width, filters, num_classes)
        shape = _Shape(int(min(len(counts), max(0, (budget - fixed) // width - specials))), width, filters)
        if _useful(shape, counts, total, specials):
            return shape
        if width - _WIDTH_STEP >= _MIN_WIDTH:
            width -= _WIDTH_STEP
        elif filters // 2 >= _MIN_FILTERS:
            filters //= 2
        else:
            return shape


def _useful(shape: _Shape, counts: np.ndarray, total: int, specials: int) -> bool:
    """At most `_MAX_CUT_SHARE` of the train pieces cut, and at least as many rows as the width (PCA's start)."""
    if shape.kept < len(counts) and float(counts[shape.kept :].sum()) / total > _MAX_CUT_SHARE:
        return False
    return specials + shape.kept >= min(shape.width, specials + len(counts))


def _sizing(
    config: StudentConfig,
    shape: _Shape,
    counts: np.ndarray,
    total: int,
    specials: int,
    max_seq_length: int,
    num_classes: int,
    cuts: list[str],
    misfit: str = "",
) -> Sizing:
    rows = specials + shape.kept
    return Sizing(
        rows=rows,
        width=shape.width,
        filters=shape.filters,
        candidates=specials + len(counts),
        unk_share=round(1.0 - float(counts[: shape.kept].sum()) / total, 4),
        predicted_flash_bytes=predicted_flash_bytes(config, rows, shape.width, shape.filters, num_classes),
        predicted_arena_bytes=predicted_arena_bytes(config, max_seq_length, shape.width, shape.filters),
        cut="; ".join(cuts),
        micro_misfit=misfit,
    )
