"""AWS HealthLake stand-in: bulk NDJSON import into the Iceberg-like layout Redshift reads."""
