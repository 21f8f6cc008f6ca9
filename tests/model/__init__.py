"""Independent pure-Python reference model of the protocol's integer math (no brownie imports)."""
