"""FHIR R4: synthetic population, bulk NDJSON import and the HealthLake table layout."""
