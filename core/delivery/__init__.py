"""Getting an OTP message to its recipient.

The delivery service (``service``) sends one attempt through one channel object
(``channels``: webhook, email, console), each answering with an ``attempts.AttemptResult``;
beside them the webhook and email formats, targets, templates, locales and previews.
"""
