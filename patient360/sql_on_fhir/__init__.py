"""SQL on FHIR v2: ViewDefinitions compiled to SQL for DuckDB and Redshift over the HealthLake layout."""
