"""The broker.

Dramatiq setup, confirmed publishing, the events on the wire and the one routing table
(``routes``) of queues, actors and delivery channels.
"""
