"""Dramatiq workers: the fan-out and delivery actors and the senders they use."""
