"""FHIR R4: a synthetic, seeded patient population written as a bulk export (NDJSON)."""
