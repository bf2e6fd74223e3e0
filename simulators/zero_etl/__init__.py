"""Local stand-ins for the AWS zero-ETL integrations: a private MariaDB with its binlog replica (Aurora),
a Kafka broker and the MSK streaming-ingestion landing."""
