"""`make test` and `make test-slow` split the suite by file (tests/conftest.py SLOW_FILES): every listed file
exists (a renamed file would silently move back into `make test`), and each target's command selects its half."""

from __future__ import annotations

import re

from tests.conftest import ROOT, SLOW_FILES


def test_every_slow_file_exists():
    missing = sorted(f for f in SLOW_FILES if not (ROOT / f).is_file())
    assert not missing, f"tests/conftest.py SLOW_FILES names files that do not exist: {missing}"


def test_the_targets_select_the_two_halves_and_ci_runs_both():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r'^test: setup\n\t\$\(BROWNIE\) test \$\(if \$\(ARGS\),\$\(ARGS\),-m "not slow"\)$', makefile, re.MULTILINE)
    assert re.search(r"^test-slow: setup\n\t\$\(BROWNIE\) test -m slow \$\(ARGS\)$", makefile, re.MULTILINE)
    ci = (ROOT / ".ci" / "run").read_text().split("\n")
    assert "make test" in ci and "make test-slow" in ci
