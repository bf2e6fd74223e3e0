"""The front-desk application (Aurora MySQL source): its schema and a seeded stream of real operations."""
