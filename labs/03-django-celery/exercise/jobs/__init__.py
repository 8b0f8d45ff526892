"""The jobs app: items (synchronous CRUD) and the background work (submit, status, digests)."""
