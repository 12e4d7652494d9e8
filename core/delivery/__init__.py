"""Getting an OTP message to its recipient.

The delivery service, webhook and email channels, templates, locales and previews.
"""
