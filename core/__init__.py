"""Shared domain of the OTP service: settings, data, codes, passwords, services."""
