"""`make demo` is the main job: the Alice/Bob story runs to the end and its reconciliation holds."""

from __future__ import annotations

from perp_ops import alice_bob


def test_alice_bob_story_reconciles(capsys):
    assert alice_bob.main() is True
    out = capsys.readouterr().out
    assert "longs pay shorts" in out and "shorts pay longs" in out
    assert "Carol liquidates Dave" in out
    assert "vault covers everything it owes: yes" in out
