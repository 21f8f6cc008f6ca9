"""Keeper bots over perp_client (no brownie): funding, liquidator, arbitrageur.

Each module has `run_once(client, ...) -> list[Action]` (one pass, reusable in tests and other loops) and
`main()` (`python -m perp_ops.keepers.<bot> [--once]`), see docs/toolkit.md.
"""
