"""patient360: zero-ETL patient-360 analytics; the application around the dbt project (see ARCHITECTURE.md)."""
