"""`python -m cli`: the `edgeline` command without its console script."""

import sys

from cli.edgeline import main

sys.exit(main())
