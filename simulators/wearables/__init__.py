"""Wearable devices: a seeded per-patient event generator and a Kafka producer for it."""
