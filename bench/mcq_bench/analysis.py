"""Lines through the measured points: where Spark overtakes Pandas, where Pandas' memory reaches its budget, and
the ``--engine auto`` threshold that follows."""

from __future__ import annotations

import statistics
from typing import Any

from mcq_bench.scales import TARGET_PANDAS_RSS_MIB


def ratio_or_none(value: float | None, base: float | None) -> float | None:
    """``value / base``, or None when either is missing or the base is not positive."""
    if value is None or base is None or base <= 0:
        return None
    return value / base


def _fit(points: list[tuple[int, float]]) -> tuple[float, float] | None:
    """Least-squares line ``seconds = a + b × rows``."""
    if len(points) < 2 or len({x for x, _ in points}) < 2:
        return None
    xs, ys = [float(x) for x, _ in points], [y for _, y in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)
    return my - b * mx, b


def crossover(pandas_points: list[tuple[int, float]], spark_points: list[tuple[int, float]]) -> dict[str, Any]:
    """Where the Spark line drops below the Pandas line, from the measured (rows, seconds) points."""
    p, s = _fit(pandas_points), _fit(spark_points)
    out: dict[str, Any] = {"pandas_fit": p, "spark_fit": s, "rows": None}
    if p is None or s is None:
        out["verdict"] = "not enough points"
    elif s[1] >= p[1]:
        out["verdict"] = (f"Spark never wins on this machine: {s[1] * 1e6:.1f} s per million answers against "
                          f"Pandas' {p[1] * 1e6:.1f} s, on top of {s[0] - p[0]:.1f} s more fixed cost")
    else:
        rows = (s[0] - p[0]) / (p[1] - s[1])
        out["rows"] = max(0, int(rows))
        out["verdict"] = f"Spark wins from about {out['rows']:,} affected answer rows"
    return out


def memory_limit(points: list[tuple[int, float]], budget_mib: float = TARGET_PANDAS_RSS_MIB) -> dict[str, Any]:
    """Pandas' peak RSS as a line in the window's affected answers, and where it reaches ``budget_mib``."""
    fit = _fit(points)
    rows = None
    if fit is not None and fit[1] > 0:
        rows = max(0, int((budget_mib - fit[0]) / fit[1]))
    return {"fit": fit, "budget_mib": budget_mib, "rows": rows}


def recommend_threshold(cross: dict[str, Any], memory: dict[str, Any]) -> dict[str, Any]:
    """The ``--engine auto`` threshold these figures support: where Spark gets faster, or, where it never
    does, where Pandas' memory reaches the budget (Spark's reason to run is then memory, not speed)."""
    def round2(n: int) -> int:  # two significant digits, down
        digits = max(0, len(str(n)) - 2)
        return n // 10**digits * 10**digits

    if cross.get("rows") is not None:
        rows = round2(cross["rows"])
        return {"rows": rows, "basis": "time", "text": f"{rows:,} (Spark is faster from there on this machine)"}
    if memory.get("rows") is not None:
        per_affected = max(1.0, memory.get("scope_per_affected_answer") or 1.0)
        rows = round2(int(memory["rows"] / per_affected))
        return {"rows": rows, "basis": "memory",
                "text": f"{rows:,} affected answers (Spark is never faster here; beyond it Pandas would pass "
                        f"{memory['budget_mib']:,.0f} MiB in a steady hourly stream, scope {per_affected:.1f}× "
                        "the affected answers)"}
    return {"rows": None, "basis": None, "text": "no recommendation from these figures"}
