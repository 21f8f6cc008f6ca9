"""The event log moved to perp_client.events (the command line's `perp history` reads it too)."""

from perp_client.events import CHUNK, EVENTS, Event, EventLog, select

__all__ = ["CHUNK", "EVENTS", "Event", "EventLog", "select"]
