"""Streaming-ingestion stand-in: a local Kafka broker (MSK), its client, and the landing a streaming view gives."""
