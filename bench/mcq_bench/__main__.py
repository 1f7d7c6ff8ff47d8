"""``python -m mcq_bench``: the benchmark's command line (also the worker subprocesses' entry)."""

import sys

from mcq_bench.cli import main

sys.exit(main())
