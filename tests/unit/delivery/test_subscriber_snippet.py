"""The subscriber snippet of docs/webhooks.md verifies what the webhook sender really signs."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest

from core.delivery.webhooks import oc_hash, standard_webhook_headers

WEBHOOKS_DOC = Path(__file__).resolve().parents[3] / "docs" / "webhooks.md"


def documented_subscriber() -> dict[str, Any]:
    section = WEBHOOKS_DOC.read_text().split("## Verifying a message", 1)[1]
    source = section.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, Any] = {"__name__": "documented_subscriber"}
    exec(compile(source, "docs/webhooks.md", "exec"), namespace)
    return namespace


@pytest.mark.parametrize(
    "key", ["plain shared key", "whsec_" + base64.b64encode(b"k" * 32).decode()]
)
def test_the_documented_subscriber_accepts_our_signatures_and_rejects_a_changed_body(
    key: str,
) -> None:
    subscriber = documented_subscriber()
    subscriber["SHARED_KEY"] = key
    payload = {"EventBody": {"OneTimePassword": "48213377"}}
    body = json.dumps(payload).encode()
    headers = {
        "X-oc-hash": oc_hash(key, body),
        **standard_webhook_headers(key, "delivery-1", int(time.time()), body),
    }

    assert subscriber["verify"](body, headers) == payload
    with pytest.raises(ValueError, match="X-oc-hash"):
        subscriber["verify"](body + b" ", headers)
    with pytest.raises(ValueError, match="webhook-signature"):
        subscriber["verify"](body, {**headers, "webhook-id": "another-id"})
