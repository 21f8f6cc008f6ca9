"""The simulation's CSV: human units a person can read, and the exact wad integers beside them."""

from __future__ import annotations

import csv
from dataclasses import fields

from perp_ops.sim.report import WAD_FIELDS, StepRecord, write_csv

WAD = 10**18


def record(step: int) -> StepRecord:
    values = {f.name: 0 for f in fields(StepRecord)}
    values.update(step=step, seconds=step * 120, mark=2_999_999_999_999_999_999_999, index=3_000 * WAD,
                  oi_long=354_022_417_300_921_090_269, funding_rate=-1_822_916_666_666_667, fund=152_039_070_000_000_000_000_046,
                  solvency_gap=-3, liquidations=2, shutdown=False)
    return StepRecord(**values)


def test_the_csv_is_in_human_units_with_exact_integers_beside(tmp_path):
    path = tmp_path / "sim.csv"
    write_csv([record(0), record(1)], path)
    rows = list(csv.DictReader(path.open()))
    assert len(rows) == 2
    row = rows[1]
    assert (row["step"], row["seconds"], row["hours"]) == ("1", "120", "0.0333")
    assert row["mark"] == "3000.0000" and row["index"] == "3000.0000"  # quote per base, rounded for reading
    assert row["oi_long"] == "354.022417" and row["fund"] == "152039.070000"  # base, quote
    assert row["funding_rate_pct"] == "-0.182292" and row["solvency_gap"] == "-0.000000"
    assert row["liquidations"] == "2" and row["shutdown"] == "False"
    # the exact integers, for whoever needs the wei
    assert int(row["mark_wad"]) == 2_999_999_999_999_999_999_999 and int(row["fund_wad"]) == 152_039_070_000_000_000_000_046
    assert int(row["solvency_gap_wad"]) == -3 and int(row["funding_rate_wad"]) == -1_822_916_666_666_667
    assert all(f"{name}_wad" in row for name in WAD_FIELDS)
    assert not any(len(v) > 20 for k, v in row.items() if not k.endswith("_wad"))  # no raw wei outside the _wad columns
