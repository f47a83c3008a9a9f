"""The command of every edgeline container on Kubeflow: TFX's KFP v2 executor launcher, a data error as one line."""

from __future__ import annotations

import sys

# What a container exits with when the input data cannot be used (as `edgeline run` does locally).
DATA_ERROR_EXIT_CODE = 4


def main() -> int:
    """Runs TFX's `kubeflow_v2_run_executor` with this process's arguments.

    The launcher would end a component's log with a stack trace; when the input
    check (components/checked_example_gen.py) refuses the data, the log ends with
    the check's own line instead, naming the file, row or column and the fix.
    """
    from common import environment

    environment.configure()
    from absl import app
    from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_run_executor as launcher

    from preprocessing.csv_reader import DataError

    try:
        # The launcher's own `__main__` block, verbatim: absl parses its flags with `_parse_flags`.
        app.run(launcher.main, flags_parser=launcher._parse_flags)  # noqa: SLF001
    except DataError as e:
        print(f"edgeline: data error: {e}", file=sys.stderr, flush=True)
        return DATA_ERROR_EXIT_CODE
    return 0


if __name__ == "__main__":
    sys.exit(main())
