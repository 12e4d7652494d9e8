"""The webhook receiver alone: how many POSTs/s it answers, so it is known not to limit."""

from __future__ import annotations

from bench.load import Load
from bench.pipeline import webhook_sized_body
from bench.scenarios.common import Context, seconds


def measure_receiver(ctx: Context) -> float:
    """POSTs/s the receiver answers on its own (recorded in ``ctx.results``)."""
    assert ctx.receiver is not None
    load = Load(
        url=f"{ctx.receiver.url}/hook",
        kind="static",
        seconds=seconds(5),
        connections=32,
        body=webhook_sized_body("user0000001").decode(),
    )
    result = load.run()
    ctx.receiver.reset()
    ctx.results["receiver"] = result.rate
    return result.rate
