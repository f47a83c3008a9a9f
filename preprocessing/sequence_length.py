"""The sequence length a corpus needs: from its word-piece counts, the shortest length under a truncation limit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def truncated_share(piece_counts: Mapping[int, int], max_seq_length: int) -> float:
    """Share of texts with more word pieces than `max_seq_length - 2` (room left by [CLS] and [SEP]).

    Args:
      piece_counts: Texts by their word-piece count (before truncation, without [CLS]/[SEP]).
      max_seq_length: Tokens per example, [CLS] and [SEP] included.

    Returns:
      The share in [0, 1]; 0 for no texts.
    """
    total = sum(piece_counts.values())
    cut = sum(n for pieces, n in piece_counts.items() if pieces > max_seq_length - 2)
    return cut / total if total else 0.0


def fitting_length(piece_counts: Mapping[int, int], max_share: float) -> int:
    """The smallest `max_seq_length` that truncates at most `max_share` of the texts.

    Args:
      piece_counts: Texts by their word-piece count (before truncation, without [CLS]/[SEP]).
      max_share: Largest share of texts that may be truncated.

    Returns:
      A length of at least 2 ([CLS] and [SEP]).
    """
    total = sum(piece_counts.values())
    allowed = int(max_share * total + 1e-9)  # texts that may stay longer than the length
    longer = 0
    # Walk down from the longest text: the length must hold every text but the `allowed` longest.
    for pieces in sorted(piece_counts, reverse=True):
        if longer + piece_counts[pieces] > allowed:
            return max(pieces, 0) + 2
        longer += piece_counts[pieces]
    return 2


def relative_cost(
    new_length: int, old_length: int, hidden_size: int | None, intermediate_size: int | None
) -> tuple[float, float, float | None]:
    """Per-text compute of a BERT encoder at `new_length` relative to `old_length`.

    Per layer and text, the projections and the feed-forward cost about L * (4H^2 + 2HI)
    multiply-adds and attention's two matrix products 2 * L^2 * H (the estimate quoted to
    the user; embeddings, softmax and layer norms are left out).

    Args:
      new_length: The proposed `max_seq_length`.
      old_length: The current one.
      hidden_size: The encoder's H, or None when it is not known.
      intermediate_size: The encoder's feed-forward width I, or None.

    Returns:
      (linear factor, attention factor, combined factor or None without H and I).
    """
    ratio = new_length / old_length
    if not hidden_size or not intermediate_size:
        return ratio, ratio * ratio, None
    per_token = 4 * hidden_size**2 + 2 * hidden_size * intermediate_size

    def cost(length: int) -> float:
        return length * per_token + 2 * length * length * hidden_size

    return ratio, ratio * ratio, cost(new_length) / cost(old_length)


def describe_cost(new_length: int, old_length: int, hidden_size: int | None, intermediate_size: int | None) -> str:
    """E.g. `about 3.6x the encoder's compute per text (projections and feed-forward x3.3, attention x11.0)`."""
    linear, attention, combined = relative_cost(new_length, old_length, hidden_size, intermediate_size)
    parts = f"projections and feed-forward x{linear:.1f}, attention x{attention:.1f}"
    if combined is None:
        return f"the encoder's compute per text grows with it ({parts})"
    return f"about {combined:.1f}x the encoder's compute per text ({parts}; H={hidden_size}, I={intermediate_size})"


# The shortest length `auto` picks: a few words, and room for the student's pooled convolutions.
MIN_AUTO_LENGTH = 16


def corpus_piece_counts(files: Sequence[str], text_column: str, assets, batch_size: int = 1024) -> dict[int, int]:
    """Texts by word-piece count over UTF-8, comma-separated CSV files (the local runner's checked copy).

    Args:
      files: The CSV files.
      text_column: The column holding the text.
      assets: The encoder's vocab and casing (`tokenizer.TokenizerAssets`).
      batch_size: Texts tokenized at once.

    Returns:
      `{word pieces: texts}`, counted as Transform counts them (FastBertTokenizer, before truncation).
    """
    import numpy as np
    import tensorflow as tf

    from preprocessing import csv_reader
    from preprocessing import tokenizer as tok

    tokenizer = tok.make_tokenizer(assets)
    counts: dict[int, int] = {}

    def add(texts: list[str]) -> None:
        lengths = tokenizer.tokenize(tf.constant(texts)).row_lengths().numpy()
        for value, n in zip(*np.unique(lengths, return_counts=True), strict=True):
            counts[int(value)] = counts.get(int(value), 0) + int(n)

    for file in files:
        with csv_reader.open_csv(file, csv_reader.CsvFormat(), [("text", text_column)]) as (header, rows):
            column = header.names.index(text_column)
            batch: list[str] = []
            for _line, cells in rows:
                batch.append(cells[column])
                if len(batch) == batch_size:
                    add(batch)
                    batch = []
            if batch:
                add(batch)
    return counts


def auto_length(piece_counts: Mapping[int, int], max_share: float, cap: int) -> tuple[int, str]:
    """`tokenizer.max_seq_length: auto`: the shortest length within `max_share`, between MIN_AUTO_LENGTH and `cap`.

    Args:
      piece_counts: Texts by word-piece count (`corpus_piece_counts`).
      max_share: `data.max_truncated_share`.
      cap: `tokenizer.max_auto_length` (or the encoder's positions, if fewer).

    Returns:
      (the length, one line for the terminal saying what was picked and why).
    """
    texts = sum(piece_counts.values())
    needed = fitting_length(piece_counts, max_share)
    length = min(max(needed, MIN_AUTO_LENGTH), cap)
    share = truncated_share(piece_counts, length)
    if needed <= cap:
        return length, (
            f"tokenizer.max_seq_length auto: {length}, the shortest that truncates at most "
            f"data.max_truncated_share {max_share:.1%} of the {texts:,} texts ({share:.1%}; cap {cap})"
        )
    return length, (
        f"tokenizer.max_seq_length auto: {length}, the cap (tokenizer.max_auto_length or the encoder's positions), "
        f"truncates {share:.1%} of the {texts:,} texts; {needed} would keep within data.max_truncated_share "
        f"{max_share:.1%}: raise tokenizer.max_auto_length or data.max_truncated_share"
    )
