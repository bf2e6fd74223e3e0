"""Data generators only: what the outside world produces (FHIR exports, front-desk operations, wearable events)."""
