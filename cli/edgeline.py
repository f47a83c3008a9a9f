"""The `edgeline` command: run, predict, compile, submit, report, history, serve-web, tensorboard."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from common import environment


def _config_options(config_help: str, set_help: str, default: str | None = None) -> argparse.ArgumentParser:
    """`--config` and `--set`, for the subcommands that load a config (a parent parser, `parents=`)."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--config", default=default, help=config_help)
    options.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help=set_help)
    return options


def _verbose_option(help_text: str) -> argparse.ArgumentParser:
    """`--verbose`, for the subcommands whose log lines are hidden by default (a parent parser, `parents=`)."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--verbose", action="store_true", help=help_text)
    return options


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edgeline", description="Labelled raw text to server and edge models with TFX."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser(
        "run",
        help="run the whole pipeline (ExampleGen → Pusher)",
        parents=[
            _config_options(
                "YAML config (default: configs/default.yaml)",
                "override a config field, e.g. --set train.epochs=1 (repeatable)",
            ),
            _verbose_option("show every log line"),
        ],
    )
    run.add_argument("--name", default="default", help="run name; outputs go to runs/NAME (default: default)")
    run.add_argument("--data", help="CSV file or directory of CSV files (default: bundled movie reviews)")
    run.add_argument("--text-column", help="column holding the text (default: text)")
    run.add_argument("--label-column", help="column holding the label (default: label)")
    run.add_argument("--delimiter", help="character between cells, e.g. ';' or tab (default: ,)")
    run.add_argument("--encoding", help="text encoding of the CSV, e.g. cp1252 (default: utf-8)")

    predict = sub.add_parser(
        "predict",
        help="classify text with a pushed SavedModel",
        parents=[_verbose_option("show TensorFlow's log lines")],
    )
    predict.add_argument("--model", required=True, help="runs/NAME/serving (newest version) or one version directory")
    predict.add_argument("texts", nargs="+", help="texts to classify; `-` reads one per line from stdin")

    compile_ = sub.add_parser(
        "compile",
        help="compile the pipeline for an orchestrator (offline)",
        parents=[
            _config_options(
                "YAML config (default: %(default)s)",
                "override a config field, e.g. --set runner.image=REGISTRY/edgeline:TAG",
                default="configs/kubeflow.yaml",
            ),
            _verbose_option("show every log line"),
        ],
    )
    compile_.add_argument("target", choices=["kubeflow"], help="kubeflow: KFP v2 pipelineSpec YAML + Vertex JSON")
    compile_.add_argument(
        "--output", default="build/kubeflow/edgeline", help="writes OUTPUT.yaml and OUTPUT.json (default: %(default)s)"
    )

    submit = sub.add_parser("submit", help="submit a compiled pipeline to an orchestrator")
    submit.add_argument("target", choices=["kubeflow"], help="kubeflow: a Kubeflow Pipelines endpoint")
    submit.add_argument("--host", required=True, help="Kubeflow Pipelines API URL, e.g. http://localhost:8080")
    submit.add_argument(
        "--spec",
        default="build/kubeflow/edgeline.yaml",
        help="pipelineSpec YAML from `edgeline compile kubeflow` (default: %(default)s)",
    )
    submit.add_argument("--experiment", default="edgeline", help="experiment name (default: %(default)s)")
    submit.add_argument(
        "--schedule",
        metavar="CRON",
        help="create a recurring run instead, e.g. '0 0 3 * * *' (seconds first: daily 03:00)",
    )
    submit.add_argument("--run-name", help="run name (default: edgeline-<UTC time>)")

    report = sub.add_parser(
        "report",
        help="write a run's HTML report (runs/NAME/report/index.html, failed.html for a failed run)",
        parents=[_verbose_option("show TensorFlow's log lines")],
    )
    report.add_argument("run_dir", metavar="runs/NAME", help="run directory")

    schema = sub.add_parser(
        "schema",
        help="write the schema a run inferred as a data contract to review (then --set data.schema=PATH)",
        parents=[_verbose_option("show TensorFlow's log lines")],
    )
    schema.add_argument("run_dir", metavar="runs/NAME", help="run directory")
    schema.add_argument("--out", required=True, help="where to write the schema (.pbtxt)")

    history = sub.add_parser(
        "history",
        help="print every candidate evaluated under a run name: spans, blessing, version pushed, metrics",
        parents=[_verbose_option("show TensorFlow's log lines")],
    )
    history.add_argument("run_dir", metavar="runs/NAME", help="run directory")

    serve_web = sub.add_parser("serve-web", help="serve a run's web build (the student in the browser) on localhost")
    serve_web.add_argument("run_dir", metavar="runs/NAME", help="run directory")
    serve_web.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (default: %(default)s)")

    tensorboard = sub.add_parser("tensorboard", help="print (or start) TensorBoard on a run's training logs")
    tensorboard.add_argument("run_dir", metavar="runs/NAME", help="run directory")
    tensorboard.add_argument("--serve", action="store_true", help="start TensorBoard instead of printing the command")
    return parser


def _run(args) -> int:
    from configs import ConfigError, load_config

    overrides = list(args.set)
    if args.data:
        overrides.append(f"data.path={args.data}")
    if args.text_column:
        overrides.append(f"data.text_column={args.text_column}")
    if args.label_column:
        overrides.append(f"data.label_column={args.label_column}")
    # JSON strings are YAML strings: `;`, `|` and `,` arrive as themselves.
    if args.delimiter:
        overrides.append(f"data.delimiter={json.dumps(args.delimiter)}")
    if args.encoding:
        overrides.append(f"data.encoding={json.dumps(args.encoding)}")
    try:
        config = load_config(args.config, overrides)
    except ConfigError as e:
        print(f"edgeline: config error: {e}", file=sys.stderr)
        return 2

    from preprocessing.csv_reader import DataError
    from runner import local_runner, run_dir

    print(f"edgeline run {args.name!r}: outputs in {config.runner.runs_dir}/{args.name}")
    try:
        summary = local_runner.run(config, name=args.name, verbose=args.verbose)
    except run_dir.RunInProgressError as e:
        print(f"edgeline: {e}", file=sys.stderr)
        return 3
    except local_runner.RunFailedError as e:
        error = e.summary["error"]
        where = f" in {error['component']}" if error.get("component") else ""
        print(f"edgeline: run failed{where}: {error['message']}", file=sys.stderr)
        print(
            f"  full log: {e.summary.get('log_file')}   summary: {config.runner.runs_dir}/{args.name}/summary.json",
            file=sys.stderr,
        )
        if e.summary.get("report"):
            print(f"  report: {e.summary['report']}", file=sys.stderr)
        if _caused_by(e, DataError):
            return 4
        return 1
    _print_summary(summary, config.runner.runs_dir, args.name)
    return 0


def _caused_by(error: BaseException, kind: type) -> bool:
    """Whether `kind` is anywhere in the chain of causes (a component's error may come wrapped by TFX)."""
    while error is not None:
        if isinstance(error, kind):
            return True
        error = error.__cause__ or error.__context__
    return False


def _metric(value) -> str:
    # summary.json holds null for a metric a slice cannot define (AUC of a one-class slice).
    return "undefined" if value is None or value != value else f"{value:.4f}"


def retraining_lines(summary: dict) -> list[str]:
    """The spans trained on, where training started, and every drift figure against its threshold."""
    from retraining import spans

    lines = []
    if summary.get("spans"):
        lines.append(f"data: {spans.describe(summary['spans'])}")
    warm = summary.get("warm_start")
    if warm:
        lines.append(
            f"warm start: from {warm['from']}" if warm["from"] else f"trained from the encoder: {warm['reason']}"
        )
    drift = summary.get("drift")
    if drift and drift.get("figures"):
        shown = [
            f"{f['name']} {'n/a' if f['value'] is None else format(f['value'], '.4f')} "
            f"({'DRIFT ' if f['value'] is not None and f['value'] > f['threshold'] else ''}limit {f['threshold']:g})"
            for f in drift["figures"]
        ]
        lines.append("drift vs the serving model's training data: " + "; ".join(shown))
    elif drift:
        lines.append(f"drift: {drift.get('note')}")
    return lines


def _eval_line(overall: dict) -> str:
    """The overall metrics in one line: per-class figures (`auc/3`, ...) stay in summary.json and the report."""
    shown = {k: v for k, v in overall.items() if k != "example_count" and "/" not in k}
    line = "eval: " + ", ".join(f"{k} {_metric(v)}" for k, v in shown.items())
    line += f" (n={overall.get('example_count') or 0:.0f})"
    classes = {k.split("/", 1)[1] for k in overall if "/" in k}
    if classes:
        averaged = sorted({k.split("/", 1)[0] for k in overall if "/" in k})
        line += f"; {', '.join(averaged)}: means over {len(classes)} classes, each class in the report"
    return line


def _print_summary(summary: dict, runs_dir: str, name: str) -> None:
    metrics = summary.get("metrics") or {}
    overall = metrics.get("overall", {})
    cached = [c for c in summary.get("components") or [] if c.get("cached")]
    reused = sum(c.get("produced_seconds") or 0.0 for c in cached)
    from_cache = ""
    if cached:  # this run's wall time apart from what the reused outputs once cost
        from_cache = f" ({len(cached)} component(s) from the cache, which took {reused:.0f}s when they ran)"
    print(f"finished in {summary['wall_seconds']:.0f}s{from_cache}; rows: {summary.get('data')}")
    for line in retraining_lines(summary):
        print(line)
    if overall:
        print(_eval_line(overall))
    change = metrics.get("change_vs_baseline")
    if change:
        print(
            "change vs the serving model: "
            + ", ".join(
                f"{k} {'undefined' if v is None else f'{v:+.4f}'}"
                for k, v in change.items()
                if k != "example_count" and "/" not in k
            )
        )
    from results.eval_tables import MIN_SLICE_EXAMPLES

    for slice_name, values in (metrics.get("slices") or {}).items():
        count = values.get("example_count") or 0
        print(
            f"  {slice_name:<28} accuracy {_metric(values.get('accuracy'))}  "
            f"auc {_metric(values.get('auc'))}  n={count:.0f}"
            + (" (too few to compare)" if count < MIN_SLICE_EXAMPLES else "")
        )
    validation = metrics.get("validation") or {}
    for failure in validation.get("failures", []):
        print(f"  threshold failed: {failure['message']}")
    if summary.get("blessed") is False:
        print(
            f"NOT BLESSED: {len(validation.get('failures', []))} threshold(s) failed, so nothing was pushed; "
            f"serving keeps {summary.get('latest_pushed_model') or 'no model'}"
        )
    print(f"blessed: {summary.get('blessed')}")
    print(f"pushed: {summary.get('pushed_model') or 'nothing new'}   serving: {summary.get('latest_pushed_model')}")
    print(f"summary: {runs_dir}/{name}/summary.json")
    print(f"report: {summary.get('report') or 'not written (see the log)'}")


def _predict(args) -> int:
    from serving import predict

    texts = list(predict.iter_lines(sys.stdin)) if args.texts == ["-"] else args.texts
    try:
        rows = predict.predict_texts(args.model, texts)
    except FileNotFoundError as e:
        print(f"edgeline: {e}", file=sys.stderr)
        return 2
    for row in rows:
        print(json.dumps(row, ensure_ascii=False))
    return 0


def _compile(args) -> int:
    from configs import ConfigError, load_config

    try:
        config = load_config(args.config, args.set)
    except ConfigError as e:
        print(f"edgeline: config error: {e}", file=sys.stderr)
        return 2
    import pathlib

    from kubeflow import compile as kubeflow_compile
    from runner.console import quiet_output

    # TensorFlow and TFMA print import-time noise from C++; it goes to a log file.
    log_file = pathlib.Path(args.output).with_suffix(".compile.log")
    try:
        with quiet_output(log_file, args.verbose):
            yaml_path, json_path = kubeflow_compile.compile_pipeline(config, args.output)
    except kubeflow_compile.CompileError as e:
        print(f"edgeline: cannot compile {args.config}: {e}", file=sys.stderr)
        return 2
    print(f"pipelineSpec (Kubeflow Pipelines): {yaml_path}\nPipelineJob (Vertex AI Pipelines): {json_path}")
    return 0


def _submit(args) -> int:
    from kubeflow import submit as kubeflow_submit

    try:
        done = kubeflow_submit.submit(args.spec, args.host, args.experiment, args.schedule, args.run_name)
    except kubeflow_submit.SubmitError as e:
        print(f"edgeline: {e}", file=sys.stderr)
        return 3
    print(f"created {done.kind} {done.id}: {done.url}")
    return 0


def _report(args) -> int:
    import pathlib

    from results import metadata_store, report, run_reader
    from runner import console

    log_file = metadata_store.RunPaths(pathlib.Path(args.run_dir)).logs / "report.log"
    try:
        run_reader.load_summary(args.run_dir)  # fails fast, before creating any directory
        # TensorFlow and TFMA print import noise from C++; it goes to the log file.
        with console.quiet_output(log_file, args.verbose):
            path = report.write_report(args.run_dir)
    except FileNotFoundError as e:
        print(f"edgeline: {e}", file=sys.stderr)
        return 2
    print(path)
    return 0


def _schema(args) -> int:
    import pathlib

    from results import metadata_store, run_reader
    from retraining import schema_contract
    from runner import console

    try:
        summary = run_reader.load_summary(args.run_dir)
    except FileNotFoundError as e:
        print(f"edgeline: {e}", file=sys.stderr)
        return 2
    paths = metadata_store.RunPaths(pathlib.Path(args.run_dir))
    # SchemaGen's own output: Transform's pre- and post-transform schemas are Schema artifacts too.
    nodes = metadata_store.latest_run(metadata_store.open_store(paths.metadata)) if paths.metadata.exists() else {}
    schema_uri = nodes["SchemaGen"].outputs["schema"][0].uri if "SchemaGen" in nodes else None
    if not schema_uri or not summary.get("input"):
        print(f"edgeline: {args.run_dir} has no schema yet; run the pipeline on your data first", file=sys.stderr)
        return 2
    data = summary["config"]["data"]
    with console.quiet_output(paths.logs / "schema.log", args.verbose):
        schema_contract.write_contract(
            schema_uri, args.out, data["text_column"], data["label_column"], summary["input"]["labels"]
        )
    print(f"{args.out}: review it, then run with --set data.schema={args.out}")
    return 0


def _history(args) -> int:
    import pathlib

    from results import metadata_store, run_reader
    from retraining import history
    from runner import console

    paths = metadata_store.RunPaths(pathlib.Path(args.run_dir))
    try:
        if not paths.metadata.exists():  # fails fast, before creating the log directory
            raise FileNotFoundError(f"{paths.metadata}: no metadata store; run `edgeline run` first")
        # TensorFlow and TFMA print import noise from C++; it goes to the log file.
        with console.quiet_output(paths.logs / "history.log", args.verbose):
            rows = run_reader.model_history(args.run_dir)
    except FileNotFoundError as e:
        print(f"edgeline: {e}", file=sys.stderr)
        return 2
    print(history.format_table(rows))
    return 0


def _serve_web(args) -> int:
    from results import run_reader
    from serving import serve_web

    try:
        # The page this run pushed (from its summary, read from ML Metadata), not the newest on disk.
        page = serve_web.pushed_web_page(args.run_dir, run_reader.load_summary(args.run_dir).get("edge"))
    except FileNotFoundError as e:
        print(f"edgeline: {e}", file=sys.stderr)
        return 2
    httpd = serve_web.server(args.run_dir, args.port)
    url = f"http://127.0.0.1:{httpd.server_address[1]}"
    print(f"the model in your browser: {url}/{page}/\nthe run report: {url}/report/\n(Ctrl-C stops)", flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
    return 0


def _tensorboard(args) -> int:
    import os
    import shlex

    from results import run_reader

    try:
        command = run_reader.tensorboard_command(args.run_dir)
    except FileNotFoundError as e:
        print(f"edgeline: {e}", file=sys.stderr)
        return 2
    print(" ".join(shlex.quote(part) for part in command), flush=True)
    if args.serve:
        # Replace this process: Ctrl-C then stops TensorBoard directly.
        os.execv(command[0], command)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `edgeline` console script."""
    args = _build_parser().parse_args(argv)
    environment.configure(verbose=getattr(args, "verbose", False))
    handlers = {
        "run": _run,
        "predict": _predict,
        "compile": _compile,
        "submit": _submit,
        "report": _report,
        "schema": _schema,
        "history": _history,
        "serve-web": _serve_web,
        "tensorboard": _tensorboard,
    }
    return handlers[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
