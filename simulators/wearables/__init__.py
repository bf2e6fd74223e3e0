"""Wearable devices: a seeded per-patient event generator and the faults a real stream carries."""
