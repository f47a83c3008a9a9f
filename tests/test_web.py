"""The web build in a real browser: Debian's Chromium, headless, driven by playwright-core (web/driver.mjs).

The page is served on 127.0.0.1 from the tiny run's web build; its token ids must equal the
pipeline's tokenizer exactly and its answers LiteRT Python's on the same .tflite.
"""

import json
import pathlib
import shutil

import numpy as np
import pytest

from bench import browser

pytestmark = pytest.mark.e2e  # reads the shared tiny run; in `make test`
needs_browser = pytest.mark.skipif(browser.missing() is not None, reason=str(browser.missing()))

# Texts where a tokenizer port usually slips: NFKC case folding, accents, CJK, emoji,
# control and zero-width characters, a word over 100 bytes, more pieces than max_seq_length.
TRICKY = [
    "",
    "   \t  ",
    "Straße STRASSE ẞ ı İstanbul ﬁlm Ｆｕｌｌ ｗｉｄｔｈ",
    "café naïve résumé Ångström ÆØÅ Ελληνικά ΣΊΣΥΦΟΣ",
    "東京タワー는 좋아요 😀👍🏽 ¡hola! ¿qué?",
    "soft\u00adhyphen zero\u200bwidth tab\tnew\nline\r\nbell\x07 nbsp\u00a0end",
    "[CLS] <b>html</b> e-mail@x.org $5.99 50% 1,000 ... --- 'quoted' \"double\"",
    "a" * 101 + " " + "é" * 60,
    "an endless, endless review " * 20,
]
# Texts from the bundled data (the eval population of the default run).
_TEXTS = 200
# LiteRT Python vs LiteRT.js on one .tflite: both run XNNPACK's int8 kernels; a float
# output is the dequantized int8 softmax, so equal kernels give equal values.
_PROBABILITY_TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def web_build(tiny_run, tmp_path_factory) -> dict:
    """The tiny run's web build: the one StudentExport pushed, else one built here from its student artifact.

    The tiny run's student passes the gate only when the tiny teacher is weak enough; when it
    is not pushed, the same `build_web` runs on the student .tflite StudentExport built.
    """
    from edge import web

    edge = tiny_run["first"]["edge"]
    row = edge["variants"][web.WEB_VARIANT]
    if row.get("pushed"):
        version_dir = pathlib.Path(edge["pushed_dir"])
        web_dir = version_dir / web.WEB_DIR
        assert (web_dir / "index.html").is_file(), f"the student was pushed to {version_dir} but no web build is there"
        model = version_dir / f"{web.WEB_VARIANT}.tflite"
        source = "pushed"
    else:
        model = pathlib.Path(edge["student_report"]).parent / f"{web.WEB_VARIANT}.tflite"
        web_dir = tmp_path_factory.mktemp("web")
        web.build_web(str(model), str(web_dir), row, edge["saved_model"]["accuracy"])
        source = f"built from the artifact (not pushed: {row.get('reason')})"
    print(f"web build {source}: {web_dir}")
    return {"dir": web_dir, "model": model, "row": row, "source": source}


@pytest.fixture(scope="module")
def texts() -> list[str]:
    from preprocessing import datasets

    rows = datasets.evenly_spaced(datasets.snippet_rows(), _TEXTS)
    return [text for text, _ in rows] + TRICKY


@pytest.fixture(scope="module")
def page(web_build, texts, tmp_path_factory) -> dict:
    """The driver's answers; then the first text typed into the box and the page saved as a PNG."""
    shot = tmp_path_factory.mktemp("shot") / "page.png"
    return browser.drive(web_build["dir"], texts, screenshot=(shot, texts[0])) | {"png": shot}


@pytest.fixture(scope="module")
def python_side(web_build, texts) -> dict:
    """The pipeline's tokenizer and LiteRT Python on the web folder's .tflite."""
    from common import artifact_io
    from edge.eval_data import tokenize
    from edge.metadata import read_metadata
    from edge.student.predict import pushed_runner
    from edge.student.runner import StudentRunner

    info, files = read_metadata(str(web_build["model"]))
    runner, assets = pushed_runner(str(web_build["model"]), info, files)
    encoder_ids = tokenize(texts, assets, int(info["max_seq_length"]))["input_word_ids"]
    web_model = artifact_io.read_bytes(str(web_build["dir"] / f"{info['variant']}.tflite"))
    probabilities = StudentRunner(web_model, runner.vocab).predict(encoder_ids)
    return {
        "encoder_ids": encoder_ids,
        "student_ids": runner.vocab.apply(encoder_ids),
        "probabilities": probabilities,
        "pushed_probabilities": runner.predict(encoder_ids),
        "labels": info["labels"],
    }


@needs_browser
def test_page_loads_offline_with_no_console_error(page, web_build):
    origin = page["requests"][0]["url"].split("/index.html")[0]
    outside = [r["url"] for r in page["requests"] if not r["url"].startswith(origin + "/")]
    assert outside == []
    assert [r for r in page["requests"] if r["status"] != 200] == []
    assert page["consoleErrors"] == []
    assert page["pageErrors"] == []
    assert page["ready"] == "true"
    settings = json.loads((web_build["dir"] / "model.json").read_text())
    assert page["shown"]["size"] == f"{settings['model_bytes']:,} bytes"
    assert page["shown"]["accuracy"] == f"{web_build['row']['accuracy']:.4f}"
    assert "WASM, 1 thread" in page["shown"]["latency"]
    # Exactly one of the two vendored WASM builds is fetched.
    assert sum(r["url"].endswith(".wasm") for r in page["requests"]) == 1


@needs_browser
def test_js_token_ids_equal_the_pipeline_tokenizer(page, python_side, texts):
    encoder = np.array(page["encoderIds"], np.int32)
    mismatched = [texts[i] for i in np.flatnonzero((encoder != python_side["encoder_ids"]).any(axis=1))]
    assert mismatched == []
    np.testing.assert_array_equal(np.array(page["studentIds"], np.int32), python_side["student_ids"])


@needs_browser
def test_page_answers_equal_litert_python(page, python_side):
    js = np.array(page["probabilities"], np.float32)
    assert js.shape == python_side["probabilities"].shape
    np.testing.assert_array_equal(js.argmax(1), python_side["probabilities"].argmax(1))
    assert float(np.abs(js - python_side["probabilities"]).max()) <= _PROBABILITY_TOLERANCE
    # Fixing the batch at 1 for LiteRT.js changes no answer of the pushed file.
    np.testing.assert_array_equal(python_side["probabilities"], python_side["pushed_probabilities"])


@pytest.mark.skipif(shutil.which("node") is None, reason="node not found: no LiteRT.js to vendor (npm ci)")
def test_build_web_writes_every_file_the_page_loads(web_build, tmp_path):
    from edge import web

    built = web.build_web(str(web_build["model"]), str(tmp_path / "web"), {"accuracy": 0.75}, 0.8)
    assert built["dir"] == str(tmp_path / "web")
    names = {p.relative_to(tmp_path / "web").as_posix() for p in (tmp_path / "web").rglob("*") if p.is_file()}
    assert {"index.html", "app.js", "tokenizer.js", "student.tflite", "vocab.txt", "labels.txt"} <= names
    assert {"student_ids.txt", "model.json", "litert/wasm/litert_wasm_internal.wasm"} <= names
    assert built["bytes"] == sum((tmp_path / "web" / n).stat().st_size for n in names)
    assert (built["accuracy"], built["teacher_accuracy"]) == (0.75, 0.8)
    _, files = web.page_files(str(web_build["model"]))
    web.check_page(files)
    with pytest.raises(ValueError, match="web/app.js: missing or empty"):
        web.check_page({**files, "app.js": b""})


def test_serve_web_finds_this_runs_page_and_serves_wasm(tmp_path):
    import threading
    import urllib.request

    from edge import web
    from results import report
    from serving import serve_web

    for version in ("9", "10", "11"):
        (tmp_path / "edge" / version / "web").mkdir(parents=True)
        (tmp_path / "edge" / version / "web" / "index.html").write_text("<html></html>")
    (tmp_path / "edge" / "10" / "web" / "x.wasm").write_bytes(b"\0asm")
    # This run pushed version 10's page (11's is another run's), as its summary says.
    edge = {"variants": {"student": {"pushed": True}}, "web": {"dir": str(tmp_path / "edge" / "10" / "web")}}
    assert serve_web.pushed_web_page(tmp_path, edge) == "edge/10/web"
    assert report._web_link(edge, tmp_path) == {"web": "../edge/10/web/index.html", "web_missing": None}
    assert serve_web.WEB_VARIANT == web.WEB_VARIANT
    httpd = serve_web.server(tmp_path)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/edge/10/web/x.wasm"
        with urllib.request.urlopen(url) as response:
            assert response.headers["Content-Type"] == "application/wasm"
    finally:
        httpd.shutdown()
        httpd.server_close()
    with pytest.raises(FileNotFoundError, match="this run built no student"):
        serve_web.pushed_web_page(tmp_path / "empty", None)


# Node runs tokenizer.js (cased or not, argv[2]) over each text on stdin and prints the indices of the
# texts whose word pieces differ from the ids given beside them (TF Text's), then the code points listed
# in the file argv[3] that Node's own Unicode tables have assigned (the reason a code point may be left out).
_JS_AGAINST_TF_JS = """
import fs from "node:fs";
import { Tokenizer } from "%s";
const vocab = fs.readFileSync(process.argv[1], "utf8").split("\\n");
vocab.pop();
const tk = new Tokenizer(vocab, process.argv[2] === "lower", 8);
const expected = JSON.parse(fs.readFileSync(0, "utf8"));
const differ = [];
expected.forEach(([text, ids], i) => {
  const js = tk.words(text).flatMap((w) => tk.wordPieces(w));
  if (js.length !== ids.length || js.some((id, k) => id !== ids[k])) differ.push(i);
});
const listed = JSON.parse(fs.readFileSync(process.argv[3], "utf8"));
const assigned = listed.filter((cp) => !/^\\p{Cn}$/u.test(String.fromCodePoint(cp)));
process.stdout.write(JSON.stringify({ differ, assigned }));
"""

# Characters of Unicode 13.0 (Python 3.10's tables) that the ICU inside TF Text 2.16 does not know as
# Node does. TF Text's ICU has Unicode 12.1 (U+32FF, 12.1's one addition, agrees): it sees the
# characters 13.0 added as unassigned and makes "a" + c + "b" one [UNK], where Node (Unicode 17)
# splits off a punctuation mark or folds a digit. U+1171E is a nonspacing mark (Mn) up to 13.0, which
# TF Text drops, and a spacing mark (Mc) in Node's tables, which Node keeps. No other assigned
# character may differ.
_UNICODE_13_ONLY = {
    0x2E52: "TIRONIAN SIGN CAPITAL ET",
    0x10EAD: "YEZIDI HYPHENATION MARK",
    0x1145A: "NEWA DOUBLE COMMA",
    0x11944: "DIVES AKURU DOUBLE DANDA",
    0x11945: "DIVES AKURU GAP FILLER",
    0x11946: "DIVES AKURU END OF TEXT MARK",
}
_UNICODE_13_ONLY_UNCASED = {
    **_UNICODE_13_ONLY,
    0x1171E: "AHOM CONSONANT SIGN MEDIAL RA",
    **{
        0x1FBF0 + d: f"SEGMENTED DIGIT {n}"
        for d, n in enumerate("ZERO ONE TWO THREE FOUR FIVE SIX SEVEN EIGHT NINE".split())
    },
}
# Code points Unicode assigned after 13.0 (unassigned in Python's tables, assigned in Node's): TF Text's
# ICU has never seen them either. How many of them differ, with Node 20's ICU 78 (Unicode 17):
# 234 uncased, 58 cased (punctuation and format characters); a few more are allowed for a newer Node.
_NEWER_THAN_13_BOUND = {True: 250, False: 70}


def _cased_vocab(vocab: tuple[str, ...]) -> tuple[str, ...]:
    """The uncased vocab plus the upper-case and title-case forms of its alphabetic pieces: a cased vocab."""
    known = set(vocab)
    extra = []
    for piece in vocab:
        stem, prefix = (piece[2:], "##") if piece.startswith("##") else (piece, "")
        if stem.isalpha():
            for form in (prefix + stem.upper(), prefix + stem.title()):
                if form not in known:
                    known.add(form)
                    extra.append(form)
    return (*vocab, *extra)


@pytest.mark.skipif(shutil.which("node") is None, reason="node not found: install Node.js 18+")
@pytest.mark.parametrize("lower_case", [True, False], ids=["uncased", "cased"])
def test_js_tokenizer_equals_tf_text_on_every_code_point_and_on_real_texts(tiny_encoder, tmp_path, lower_case):
    """Exact agreement on every code point c as "a" + c + "b" and on the bundled and tricky texts, as typed.

    Left out, and counted: the characters in `_UNICODE_13_ONLY*` and those Unicode assigned after 13.0.
    Every other code point, assigned or not, must give the same word pieces.
    """
    import subprocess
    import unicodedata

    import tensorflow as tf

    from edge import web
    from preprocessing import datasets
    from preprocessing import tokenizer as tok

    vocab = tok.assets_from_encoder(tiny_encoder).vocab  # the standard uncased 30,522-piece vocab
    assets = tok.TokenizerAssets(vocab if lower_case else _cased_vocab(vocab), lower_case)
    tokenizer = tok.make_tokenizer(assets)
    points = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    texts = [t for t, _ in datasets.evenly_spaced(datasets.snippet_rows(), _TEXTS)] + TRICKY
    corpus = [("a" + chr(c) + "b") for c in points] + texts
    expected = []
    for start in range(0, len(corpus), 1 << 16):
        chunk = corpus[start : start + (1 << 16)]
        expected += zip(chunk, tokenizer.tokenize(tf.constant(chunk)).to_list(), strict=True)
    if not lower_case:  # the cased vocab is used: capitals match pieces of their own
        assert any(assets.vocab[ids[0]] == "The" for text, ids in expected[len(points) :] if text.startswith("The "))
    (tmp_path / "vocab.txt").write_text("\n".join(assets.vocab) + "\n", encoding="utf-8")
    unassigned_here = tmp_path / "unassigned.json"  # in Python's Unicode 13.0
    unassigned_here.write_text(json.dumps([c for c in points if unicodedata.category(chr(c)) == "Cn"]))
    script = _JS_AGAINST_TF_JS % (pathlib.Path(web.PAGE_DIR, "tokenizer.js").as_uri())
    done = subprocess.run(
        [
            "node",
            "--input-type=module",
            "-e",
            script,
            str(tmp_path / "vocab.txt"),
            "lower" if lower_case else "cased",
            str(unassigned_here),
        ],
        input=json.dumps(expected).encode(),
        capture_output=True,
        check=True,
        timeout=300,
    )
    answer = json.loads(done.stdout)
    assert [corpus[i] for i in answer["differ"] if i >= len(points)] == []  # every real text, exactly
    differ = {points[i] for i in answer["differ"] if i < len(points)}
    newer = differ & set(answer["assigned"])
    left_out = _UNICODE_13_ONLY_UNCASED if lower_case else _UNICODE_13_ONLY
    unexplained = [
        f"U+{c:04X} {unicodedata.name(chr(c), '(unassigned)')}" for c in sorted(differ - newer - set(left_out))
    ]
    assert unexplained == []  # every other code point agrees
    assert all(unicodedata.name(chr(c)) == name for c, name in left_out.items())  # the table names them right
    assert len(newer) <= _NEWER_THAN_13_BOUND[lower_case], len(newer)


@needs_browser
def test_typing_a_text_shows_litert_pythons_label(page, python_side):
    """What a user sees after typing: the label LiteRT Python gives the same text, captured as a PNG."""
    assert page["shown"]["label"] == python_side["labels"][int(python_side["probabilities"][0].argmax())]
    png = page["png"].read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_the_image_finds_litertjs_where_the_variable_points(tmp_path):
    """The Kubeflow image installs edgeline into site-packages and LiteRT.js under /edgeline: EDGELINE_LITERTJS_DIR
    tells edge/web.py where, and its build check fails on a folder without it (kubeflow/Dockerfile)."""
    import subprocess
    import sys

    code = "from edge import web; print(web.RUNTIME_DIR); web.check_runtime()"
    env = {**__import__("os").environ, "EDGELINE_LITERTJS_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stdout.strip() == str(tmp_path)
    assert f"{tmp_path}/core/dist/index.js: LiteRT.js is not installed" in done.stderr
