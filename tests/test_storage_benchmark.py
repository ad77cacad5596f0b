"""The storage benchmark's tiny path returns well-formed figures (no timing is asserted)."""

from __future__ import annotations

from pathlib import Path

from benchmarks import storage


def test_sustained_logging_counts_every_row(tmp_path: Path) -> None:
    result = storage.sustained(f"sqlite:///{tmp_path / 'b.db'}", rate=100, seconds=1.5)
    assert result["questions"] == 150
    assert result["rows_counted"] == 150 and result["rows_lost"] == 0 and result["flushed"]
    assert result["rss_samples"] and result["call_median_us"] > 0
    cost = storage.hot_path_cost(f"sqlite:///{tmp_path / 'c.db'}", calls=200)
    assert cost["calls"] == 200 and cost["median_us"] > 0
    assert storage.paced_without_writer(rate=100, seconds=0.2)["median_us"] > 0
    assert "| sqlite |" in storage.render(
        {"machine": _machine(), "rate": 100, "seconds": 1.5, "sqlite": {**result, "hot_path": cost}}
    )


def _machine() -> dict[str, object]:
    return {"cpu_model": "cpu", "usable_cores": 2, "load_average_at_start": [0.0]}
