"""Clients of the services the actions talk to (one class per service, no I/O at import)."""
