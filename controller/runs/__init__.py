"""Runs: asking endpoints to act (catalogue actions), and following each run to its evidence."""
