"""The front-desk application (Aurora MySQL stand-in): schema and a seeded stream of real operations."""
