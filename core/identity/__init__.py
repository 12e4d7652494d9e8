"""Users and what they may do.

OrderCloud's roles, security profile access, API client eligibility, password hashing and the
first admin.
"""
