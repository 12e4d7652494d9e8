"""The broker.

Dramatiq setup, confirmed publishing, the events on the wire and the one routing table of queues
and actors.
"""
