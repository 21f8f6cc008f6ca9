"""tools/slither_triage.py, the gate of `make lint` on slither's findings (the contracts carry no suppression
comments): a finding the triage does not accept, a changed count and a stale entry each fail; the places do not
depend on line numbers; the committed triage loads and names only known reasons; docs/security.md's table is
written from the counts."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import slither_triage as st

FUNCTION = {"type": "function", "name": "openPosition", "type_specific_fields": {"parent": {"type": "contract", "name": "ClearingHouse"}}}
LOCAL = {"type": "variable", "name": "found", "type_specific_fields": {"parent": {
    "type": "function", "name": "_cumulativeAt", "type_specific_fields": {"parent": {"type": "contract", "name": "MarkTwap"}}}}}
STATE = {"type": "variable", "name": "feePool", "type_specific_fields": {"parent": {"type": "contract", "name": "ClearingHouseStorage"}}}
TRIAGE = {
    "reasons": {"trusted": {"text": "the protocol's own contracts"}, "zero": {"text": "zero-initialised"}},
    "accepted": [
        {"check": "reentrancy-no-eth", "at": "ClearingHouse.openPosition", "count": 2, "reason": "trusted"},
        {"check": "uninitialized-local", "at": "MarkTwap._cumulativeAt:found", "count": 1, "reason": "zero"},
    ],
}


def test_places_name_the_contract_function_and_variable():
    assert st.place({"elements": [FUNCTION]}) == "ClearingHouse.openPosition"
    assert st.place({"elements": [LOCAL]}) == "MarkTwap._cumulativeAt:found"
    assert st.place({"elements": [STATE]}) == "ClearingHouseStorage.feePool"


def test_what_fails_the_lint():
    ok = Counter({("reentrancy-no-eth", "ClearingHouse.openPosition"): 2, ("uninitialized-local", "MarkTwap._cumulativeAt:found"): 1})
    assert st.problems(ok, TRIAGE) == []
    new = ok + Counter({("reentrancy-no-eth", "ClearingHouse.closePosition"): 1})
    (problem,) = st.problems(new, TRIAGE)
    assert problem.startswith("reentrancy-no-eth at ClearingHouse.closePosition: 1 finding(s) not in tools/slither-triage.toml")
    more = ok + Counter({("reentrancy-no-eth", "ClearingHouse.openPosition"): 1})
    assert st.problems(more, TRIAGE) == ["reentrancy-no-eth at ClearingHouse.openPosition: 3 finding(s), the triage accepts 2"]
    fixed = Counter({("reentrancy-no-eth", "ClearingHouse.openPosition"): 2})
    (stale,) = st.problems(fixed, TRIAGE)
    assert "MarkTwap._cumulativeAt:found: accepted in tools/slither-triage.toml but no longer reported" in stale


def test_a_report_and_the_docs_table(tmp_path):
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"success": True, "results": {"detectors": [
        {"check": "reentrancy-no-eth", "elements": [FUNCTION]}, {"check": "reentrancy-no-eth", "elements": [FUNCTION]},
        {"check": "uninitialized-local", "elements": [LOCAL]}]}}))
    found = st.findings(report)
    assert found == Counter({("reentrancy-no-eth", "ClearingHouse.openPosition"): 2,
                             ("uninitialized-local", "MarkTwap._cumulativeAt:found"): 1})
    docs = tmp_path / "security.md"
    docs.write_text(f"before\n{st.START}\nold\n{st.END}\nafter\n")
    assert st.write_docs(docs, st.table(TRIAGE, found))
    text = docs.read_text()
    assert "**3 high/medium findings" in text and "| trusted | reentrancy-no-eth | 2 | `ClearingHouse.openPosition` |" in text
    assert text.startswith("before\n") and text.endswith("after\n") and "old" not in text
    assert not st.write_docs(docs, st.table(TRIAGE, found))  # unchanged: nothing written
    report.write_text(json.dumps({"success": False, "error": "solc failed"}))
    with pytest.raises(SystemExit, match="slither failed: solc failed"):
        st.findings(report)


def test_the_committed_triage_loads():
    triage = st.load_triage()
    assert triage["accepted"] and all(e["count"] > 0 for e in triage["accepted"])
    assert len({(e["check"], e["at"]) for e in triage["accepted"]}) == len(triage["accepted"])
    assert st.START in (ROOT / "docs" / "security.md").read_text()
    assert not any("slither-disable" in p.read_text() for p in (ROOT / "contracts").rglob("*.sol"))
