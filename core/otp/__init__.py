"""One-time passwords from request to row.

Intake (the api side), codes, the fan-out to users, the IP rate limit and the purge.
"""
