"""patient360: zero-ETL patient-360 analytics (application package)."""
