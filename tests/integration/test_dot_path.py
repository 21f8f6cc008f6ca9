"""`brownie run` from a checkout whose path has a dot in it (/home/jane.doe/perp): tools/brownie.py, installed
as .venv/bin/brownie, lets brownie import the script (brownie 1.22 alone fails with
`ModuleNotFoundError: No module named '...jane'`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_brownie_run_from_a_path_with_a_dot(tmp_path: Path) -> None:
    project = tmp_path / "jane.doe" / "perp"
    (project / "scripts").mkdir(parents=True)
    (project / "scripts" / "__init__.py").write_text("")
    (project / "scripts" / "helper.py").write_text("WORD = 'imported'\n")
    (project / "scripts" / "hello.py").write_text(
        "from scripts.helper import WORD\n\n\ndef main():\n    print('hello from a dotted path,', WORD)\n")
    brownie = Path(sys.executable).parent / "brownie"
    result = subprocess.run([str(brownie), "run", "scripts/hello.py"], check=False, cwd=project, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "hello from a dotted path, imported" in result.stdout
