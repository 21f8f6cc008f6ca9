"""The one exception the client raises for bad input and refused transactions: a one-line message."""

from __future__ import annotations


class PerpError(Exception):
    """A clear, one-line reason; nothing was sent when it is raised before a transaction."""
