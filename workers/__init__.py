"""Dramatiq workers: the process setup and the thin actors that call ``core`` services."""
