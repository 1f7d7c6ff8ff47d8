#!/usr/bin/env python
"""Run the MCQ analytics pipelines by hand: ``python run_etl.py --env dev [--start … --end …]``."""

import sys

from mcq_analytics.cli import main

if __name__ == "__main__":
    sys.exit(main())
