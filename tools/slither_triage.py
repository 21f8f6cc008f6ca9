"""Slither's accepted findings, kept out of the code: tools/slither-triage.toml names each high or medium finding
by detector and place (`Contract.function`, `Contract.function:local`, `Contract.stateVariable`), how many times
slither reports it there and why it is not a bug. `make lint` (tools/lint.sh) runs slither with no suppression in
the contracts, then this script:

- fails on a finding the triage does not name, on a place whose count changed (a new finding beside an accepted
  one, or one fixed), and on an entry that matches nothing any more (remove it);
- writes the table of docs/security.md §4 (between its `slither-triage` markers) from the same data, so the
  document's counts are the lint's.

    python tools/slither_triage.py build/slither/report.json [--docs docs/security.md]
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TRIAGE = ROOT / "tools" / "slither-triage.toml"
START, END = "<!-- slither-triage:start -->", "<!-- slither-triage:end -->"


def place(finding: dict[str, Any]) -> str:
    """Where a finding is, independent of line numbers: `Contract.function`, `Contract.function:local` or
    `Contract.stateVariable`, from its first element."""
    element = finding["elements"][0]
    parent = element.get("type_specific_fields", {}).get("parent", {})
    if element["type"] == "variable" and parent.get("type") == "function":
        contract = parent["type_specific_fields"]["parent"]["name"]
        return f"{contract}.{parent['name']}:{element['name']}"
    return f"{parent.get('name', '?')}.{element['name']}"


def findings(report: Path) -> Counter[tuple[str, str]]:
    """(detector, place) -> how many findings slither reported there."""
    data = json.loads(report.read_text())
    if not data.get("success"):
        raise SystemExit(f"slither failed: {data.get('error')}")
    return Counter((f["check"], place(f)) for f in data.get("results", {}).get("detectors", []))


def load_triage(path: Path = TRIAGE) -> dict[str, Any]:
    triage = tomllib.loads(path.read_text())
    for entry in triage["accepted"]:
        if entry["reason"] not in triage["reasons"]:
            raise SystemExit(f"{path}: {entry['check']} at {entry['at']}: unknown reason {entry['reason']!r}")
    return triage


def problems(found: Counter[tuple[str, str]], triage: dict[str, Any]) -> list[str]:
    """What makes the lint fail: findings not accepted (or in another number), entries matching nothing."""
    accepted = {(e["check"], e["at"]): e["count"] for e in triage["accepted"]}
    out = []
    for (check, at), n in sorted(found.items()):
        want = accepted.get((check, at))
        if want is None:
            out.append(f"{check} at {at}: {n} finding(s) not in tools/slither-triage.toml (fix it, or accept it there with a reason)")
        elif want != n:
            out.append(f"{check} at {at}: {n} finding(s), the triage accepts {want}")
    for (check, at) in sorted(set(accepted) - set(found)):
        out.append(f"{check} at {at}: accepted in tools/slither-triage.toml but no longer reported (remove the entry)")
    return out


def table(triage: dict[str, Any], found: Counter[tuple[str, str]]) -> str:
    """docs/security.md's table: one row per reason, with its detectors, count and places."""
    rows: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
    for e in triage["accepted"]:
        rows[e["reason"]].append((e["check"], e["at"], found.get((e["check"], e["at"]), 0)))
    total = sum(found.values())
    summary = (f"Result on the contracts as of this table (written by `make lint`): **{total} high/medium findings, all "
               f"in tools/slither-triage.toml**, {len(triage['accepted'])} places, {len(triage['reasons'])} reasons; no "
               "suppression comment in the code.")
    lines = [
        summary,
        "",
        "| reason | detectors | n | where | why it is not a bug |",
        "| --- | --- | ---: | --- | --- |",
    ]
    for key, reason in triage["reasons"].items():
        entries = rows.get(key, [])
        if not entries:
            continue
        detectors = ", ".join(sorted({c for c, _, _ in entries}))
        where = ", ".join(f"`{at}`" for _, at, _ in entries)
        lines.append(f"| {key} | {detectors} | {sum(n for _, _, n in entries)} | {where} | {reason['text']} |")
    return "\n".join(lines)


def write_docs(docs: Path, text: str) -> bool:
    """Replace the marked section of `docs` with `text`; True when it changed."""
    content = docs.read_text()
    if START not in content or END not in content:
        raise SystemExit(f"{docs}: the {START} / {END} markers are missing")
    head, rest = content.split(START, 1)
    _, tail = rest.split(END, 1)
    new = f"{head}{START}\n{text}\n{END}{tail}"
    if new == content:
        return False
    docs.write_text(new)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path)
    parser.add_argument("--docs", type=Path, default=ROOT / "docs" / "security.md")
    args = parser.parse_args(argv)
    found = findings(args.report)
    triage = load_triage()
    for (check, at), n in sorted(found.items()):
        print(f"  {check:<24} {at} ({n})")
    failed = problems(found, triage)
    for p in failed:
        print(f"lint: {p}", file=sys.stderr)
    print(f"lint: {sum(found.values())} high/medium slither finding(s), {len(failed)} not accepted by the triage")
    if not failed and write_docs(args.docs, table(triage, found)):
        print(f"lint: {args.docs.relative_to(ROOT)} §4 table rewritten from the lint's counts")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
