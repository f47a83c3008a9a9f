"""The `edgeline` command: run, predict."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

from pipeline import env


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edgeline", description="Labelled raw text to server and edge models with TFX.")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the whole pipeline (ExampleGen → Pusher)")
    run.add_argument("--config", help="YAML config (default: configs/default.yaml)")
    run.add_argument("--name", default="default", help="run name; outputs go to runs/NAME (default: default)")
    run.add_argument("--data", help="CSV file or directory of CSV files (default: bundled movie reviews)")
    run.add_argument("--text-column", help="column holding the text (default: text)")
    run.add_argument("--label-column", help="column holding the label (default: label)")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="override a config field, e.g. --set train.epochs=1 (repeatable)")
    run.add_argument("--verbose", action="store_true", help="show every log line")

    predict = sub.add_parser("predict", help="classify text with a pushed SavedModel")
    predict.add_argument("--model", required=True,
                         help="runs/NAME/serving (newest version) or one version directory")
    predict.add_argument("texts", nargs="+", help="texts to classify; `-` reads one per line from stdin")
    predict.add_argument("--verbose", action="store_true", help="show TensorFlow's log lines")
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
    try:
        config = load_config(args.config, overrides)
    except ConfigError as e:
        print(f"edgeline: config error: {e}", file=sys.stderr)
        return 2

    from pipeline import local_runner
    from preprocessing.datasets import DataError

    print(f"edgeline run {args.name!r}: outputs in {config.runner.runs_dir}/{args.name}")
    try:
        summary = local_runner.run(config, name=args.name, verbose=args.verbose)
    except local_runner.RunInProgressError as e:
        print(f"edgeline: {e}", file=sys.stderr)
        return 3
    except local_runner.RunFailedError as e:
        error = e.summary["error"]
        where = f" in {error['component']}" if error.get("component") else ""
        print(f"edgeline: run failed{where}: {error['message']}", file=sys.stderr)
        print(f"  full log: {e.summary.get('log_file')}   summary: {config.runner.runs_dir}/{args.name}/summary.json",
              file=sys.stderr)
        if isinstance(e.__cause__, DataError):
            return 4
        return 1
    _print_summary(summary, config.runner.runs_dir, args.name)
    return 0


def _print_summary(summary: dict, runs_dir: str, name: str) -> None:
    metrics = summary.get("metrics") or {}
    overall = metrics.get("overall", {})
    print(f"finished in {summary['wall_seconds']:.0f}s; rows: {summary.get('data')}")
    if overall:
        print("eval: " + ", ".join(f"{k} {v:.4f}" for k, v in overall.items() if k != "example_count")
              + f" (n={overall.get('example_count', 0):.0f})")
    for slice_name, values in (metrics.get("slices") or {}).items():
        print(f"  {slice_name:<28} accuracy {values.get('accuracy', float('nan')):.4f}  "
              f"auc {values.get('auc', float('nan')):.4f}  n={values.get('example_count', 0):.0f}")
    validation = metrics.get("validation") or {}
    for failure in validation.get("failures", []):
        print(f"  threshold failed: {failure['message']}")
    print(f"blessed: {summary.get('blessed')}")
    print(f"pushed: {summary.get('pushed_model') or 'nothing new'}"
          f"   serving: {summary.get('latest_pushed_model')}")
    print(f"summary: {runs_dir}/{name}/summary.json")


def _predict(args) -> int:
    from pipeline import predict

    texts = list(predict.iter_lines(sys.stdin)) if args.texts == ["-"] else args.texts
    try:
        rows = predict.predict_texts(args.model, texts)
    except FileNotFoundError as e:
        print(f"edgeline: {e}", file=sys.stderr)
        return 2
    for row in rows:
        print(json.dumps(row, ensure_ascii=False))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `edgeline` console script."""
    args = _build_parser().parse_args(argv)
    env.configure(verbose=getattr(args, "verbose", False))
    handlers = {"run": _run, "predict": _predict}
    return handlers[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
