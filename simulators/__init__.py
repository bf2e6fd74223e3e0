"""patient360 simulators and local stand-ins for the AWS sources (HealthLake, Aurora zero-ETL, MSK)."""
