"""The webhook a OneTimePassword sender receives (docs/webhooks.md).

Payload, signatures and the meaning of a receiver's answer are decided here, without I/O;
``core/delivery/channels/webhook.py`` makes the HTTP call.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from core.delivery.attempts import AttemptResult, OtpMessage
from core.delivery.context import Recipient
from core.models import ONE_TIME_PASSWORD
from core.platform.clock import iso_utc

_MESSAGE_TYPE_PLACEHOLDER = re.compile(re.escape("{messagetype}"), re.IGNORECASE)
_RETRYABLE_STATUSES = frozenset({408, 429})
STANDARD_WEBHOOKS_PREFIX = "whsec_"


@dataclass(frozen=True)
class WebhookResponse:
    """A receiver's answer: its status and Retry-After, or the transport error."""

    status_code: int | None
    retry_after: str | None = None
    error: str | None = None
    permanent: bool = False  # a transport error no retry can fix (malformed endpoint)


@dataclass(frozen=True)
class WebhookRequest:
    url: str
    body: bytes
    headers: dict[str, str]

    def __repr__(self) -> str:  # the body holds the code
        return f"WebhookRequest(url=<{len(self.url)} chars>, body=<{len(self.body)} bytes>)"


def build_webhook_request(message: OtpMessage, *, timestamp: int) -> WebhookRequest:
    """URL, raw body and headers (signatures included) for one attempt."""
    target = message.target_settings
    url = _MESSAGE_TYPE_PLACEHOLDER.sub("onetimepassword", str(target.get("Endpoint") or ""))
    body = json.dumps(webhook_payload(message), separators=(",", ":"), ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json"}
    key = target.get("Secret")
    if isinstance(key, str) and key:
        headers["X-oc-hash"] = oc_hash(key, body)
        headers.update(standard_webhook_headers(key, message.delivery_id, timestamp, body))
    else:
        # Unsigned targets still carry the id subscribers deduplicate by.
        headers["webhook-id"] = message.delivery_id
        headers["webhook-timestamp"] = str(timestamp)
    auth_name = target.get("CustomAuthHeaderName")
    auth_value = target.get("CustomAuthHeaderValue")
    if isinstance(auth_name, str) and auth_name and isinstance(auth_value, str):
        headers[auth_name] = auth_value
    return WebhookRequest(url=url, body=body, headers=headers)


def webhook_payload(message: OtpMessage) -> dict[str, Any]:
    """The JSON body of docs/webhooks.md, field for field."""
    user = message.user
    return {
        "OcLogIdHeader": message.request_id,
        "Environment": message.environment,
        "BuyerID": user.buyer_id,
        "UserToken": None,
        "Recipient": recipient(user),
        "MessageType": ONE_TIME_PASSWORD,
        "CCList": [],
        "EventBody": {
            "Username": user.username,
            "ClientID": message.client_id,
            "OneTimePassword": message.code,
            "ExpiresAt": iso_utc(message.expires_at),
        },
        "ConfigData": message.sender.xp or {},
        "Message": {
            "Subject": message.message.subject,
            "Text": message.message.text,
            "Html": message.message.html,
        },
    }


def recipient(user: Recipient) -> dict[str, Any]:
    return {
        "ID": user.id,
        "Username": user.username,
        "FirstName": user.first_name,
        "LastName": user.last_name,
        "Email": user.email,
        "Phone": user.phone,
        "Active": user.active,
        "xp": user.xp or {},
    }


def oc_hash(key: str, body: bytes) -> str:
    """OrderCloud's ``X-oc-hash``: base64(HMAC-SHA256(UTF-8 key, raw body))."""
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


def standard_webhooks_key(key: str) -> bytes:
    """``whsec_<base64>`` decodes as the Standard Webhooks spec says; others are UTF-8."""
    if key.startswith(STANDARD_WEBHOOKS_PREFIX):
        try:
            # Lenient padding, as the reference libraries accept unpadded secrets.
            decoded = base64.b64decode(key[len(STANDARD_WEBHOOKS_PREFIX) :] + "==")
        except binascii.Error:
            decoded = b""
        if decoded:
            return decoded
    return key.encode()


def standard_webhook_headers(
    key: str, message_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` (``v1,<base64>``)."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(standard_webhooks_key(key), signed, hashlib.sha256).digest()
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": f"v1,{base64.b64encode(digest).decode()}",
    }


def classify_response(response: WebhookResponse, now: datetime) -> AttemptResult:
    """2xx delivered; 408, 429, 5xx and network errors retried; anything else failed."""
    status = response.status_code
    if status is None:
        if response.permanent:
            return AttemptResult.failed(response.error or "invalid endpoint")
        return AttemptResult.retry(response.error or "network error")
    if 200 <= status < 300:
        return AttemptResult.delivered(status)
    if status in _RETRYABLE_STATUSES or status >= 500:
        retry_after = parse_retry_after(response.retry_after, now)
        return AttemptResult.retry(f"HTTP {status}", status, retry_after)
    return AttemptResult.failed(f"HTTP {status}", status)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds from ``Retry-After`` given as delta-seconds or an HTTP date; None if absent."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max((moment - now).total_seconds(), 0.0)
