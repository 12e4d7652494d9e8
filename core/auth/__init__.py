"""The token handler's domain.

Grants, signed access tokens, refresh tokens, OTP login, lockout and the audit trail of
attempts.
"""
