"""Composition: the run-once steps, continuous mode and where each source lives (endpoints)."""
