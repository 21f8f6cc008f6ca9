"""Test vectors as plain data: Perpetual Protocol v1's scenarios, replayable on the model and on chain."""
