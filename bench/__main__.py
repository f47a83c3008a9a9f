"""`python -m bench`: the benchmarks P1-P8 (see bench/run.py)."""

import sys

from bench.run import main

sys.exit(main())
