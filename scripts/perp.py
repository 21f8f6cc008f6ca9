"""Console helper: `from scripts.perp import perp` in `brownie console`; the code is perp_ops/console.py.

Importing it installs the anvil race patch (perp_ops.anvil_race) for the console session.
"""

from __future__ import annotations

from perp_ops import anvil_race
from perp_ops.console import Perp, perp

__all__ = ["Perp", "perp"]

anvil_race.install()
