"""The ``otp`` command."""
