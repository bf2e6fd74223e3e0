"""Local stand-ins for the AWS zero-ETL integrations (Kafka broker, MSK streaming ingestion)."""
