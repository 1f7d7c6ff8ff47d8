"""The README's demo on the embedded default: its own PostgreSQL, readable summaries, harmless re-runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from mcq_analytics.embedded_pg import EmbeddedPostgres

ROOT = Path(__file__).resolve().parents[1]


def demo(state_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCQ_")}
    env["MCQ_STATE_DIR"] = str(state_dir)
    return subprocess.run([sys.executable, "run_etl.py", "--env", "dev", "demo", "--answers", "3000"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def test_demo_runs_end_to_end_twice_with_the_same_result(tmp_path):
    try:
        first = demo(tmp_path)
        assert first.returncode == 0, first.stderr[-2000:]
        for title in ("question_interaction_fact —", "test_summary_fact —", "test_funnel_fact —", "etl_rejects —"):
            assert title in first.stdout
        assert "0 failures" in first.stdout
        second = demo(tmp_path)
        assert second.returncode == 0, second.stderr[-2000:]

        def summary(text: str) -> str:  # everything from the facts on, minus timings
            return re.sub(r"in [0-9.]+s", "", text[text.index("[3/3]"):])

        assert summary(second.stdout) == summary(first.stdout)
    finally:
        EmbeddedPostgres(tmp_path / "pgdata").stop()
