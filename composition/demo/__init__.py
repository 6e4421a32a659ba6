"""``leitai demo``: the three first customers' formats, run end to end through the real services."""
