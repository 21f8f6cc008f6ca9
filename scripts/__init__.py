"""brownie entry points, thin: each `main` runs a perp_ops function through perp_ops.entry.brownie_entry.

Run them with `make ...` (which works from any directory) or `brownie run scripts/<name>.py`.
"""
