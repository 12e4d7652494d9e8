"""A three-node RabbitMQ cluster with quorum queues loses the node each process is on.

The api and the workers are given all three nodes (``OTP_BROKER_URL``, in different
orders, so they start on different nodes) and ``OTP_BROKER_QUEUE_TYPE=quorum``. Under a
steady stream of OTP requests, the node the api is connected to is SIGKILLed and, once
the api was seen on another node, started again; then the same for the node the workers
are connected to. Each process kind connects with its own RabbitMQ user, so the
cluster's connection list says which node it is on.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from core.messaging.routes import ALL_QUEUES
from tests.reliability.cluster import http_service, running, worker_service
from tests.reliability.conftest import Rig
from tests.reliability.leaks import scan_queues
from tests.reliability.load import Answer, Load, otp_request
from tests.reliability.rabbitmq_cluster import (
    RabbitCluster,
    RabbitNode,
    available,
    rabbitmq_cluster,
)
from tests.reliability.scale import scaled

RATE = float(scaled(25, 12))  # OTP requests per second
DURATION = float(scaled(100, 50))  # seconds of load
FIRST_KILL_AFTER = 8.0  # seconds into the load: every process has connections by then
SECOND_KILL_AFTER = DURATION * 0.5
API, WORKER = "otp-api", "otp-worker"
RECONNECT_TIMEOUT = 60.0  # a process not seen on another node by then fails the test


@dataclass
class NodeLoss:
    """One SIGKILL of the node ``target`` (a user: a process kind) was connected to."""

    target: str
    node: RabbitNode
    killed_at: float = 0.0  # time.monotonic()
    # user -> when it was first seen connected to another node (the CLI's answer time)
    seen_elsewhere_at: dict[str, float] = field(default_factory=dict)
    restarted_at: float = 0.0
    affected: set[str] = field(default_factory=set)  # users connected to it when killed
    leading: list[str] = field(default_factory=list)  # quorum queues whose leader it was


class NodeKiller:
    """On a thread: at each scheduled time, SIGKILL the node ``target`` is connected to,
    wait until every process kind that was on it shows up on another node, restart it."""

    def __init__(self, cluster: RabbitCluster, schedule: list[tuple[float, str]]) -> None:
        self.cluster = cluster
        self.schedule = schedule
        self.losses: list[NodeLoss] = []
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._began = 0.0

    def __enter__(self) -> NodeKiller:
        self._began = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._thread.join(timeout=DURATION + 4 * RECONNECT_TIMEOUT)

    def _run(self) -> None:
        try:
            for at, target in self.schedule:
                time.sleep(max(0.0, self._began + at - time.monotonic()))
                self.losses.append(self._lose_node_of(target))
        except BaseException as error:  # reported by the test thread
            self.error = error

    def _lose_node_of(self, target: str) -> NodeLoss:
        connections = self._wait_for_connections(target)
        node = next(iter(connections[target]))
        loss = NodeLoss(
            target=target,
            node=node,
            affected={user for user, nodes in connections.items() if node in nodes},
        )
        loss.leading = sorted(
            name
            for name, queue in self.cluster.queues().items()
            if queue.get("leader") == node.name
        )
        loss.killed_at = time.monotonic()  # when the SIGKILL is sent
        node.kill()
        deadline = loss.killed_at + RECONNECT_TIMEOUT
        while set(loss.seen_elsewhere_at) != loss.affected and time.monotonic() < deadline:
            now = self.cluster.connections_by_user()
            for user in loss.affected - set(loss.seen_elsewhere_at):
                if now.get(user, set()) - {node}:
                    loss.seen_elsewhere_at[user] = time.monotonic()
            time.sleep(0.2)
        self.cluster.restart(node)
        loss.restarted_at = time.monotonic()
        return loss

    def _wait_for_connections(self, target: str) -> dict[str, set[RabbitNode]]:
        deadline = time.monotonic() + RECONNECT_TIMEOUT
        while time.monotonic() < deadline:
            connections = self.cluster.connections_by_user()
            if connections.get(target):
                return connections
            time.sleep(0.5)
        raise AssertionError(f"{target} has no connection to any node")


def first_204_after(answers: list[Answer], moment: float) -> float | None:
    return min(
        (a.finished for a in answers if a.started >= moment and a.status == 204), default=None
    )


@pytest.fixture(scope="module")
def cluster() -> Iterator[RabbitCluster]:
    reason = available()
    if reason:
        message = f"no RabbitMQ to start cluster nodes from: {reason}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    with rabbitmq_cluster(3) as started:
        started.add_user(API)
        started.add_user(WORKER)
        yield started


@pytest.mark.timeout(scaled(full=900, ci=480))
def test_every_204_is_delivered_once_while_the_node_each_process_is_on_is_killed(
    rig: Rig, cluster: RabbitCluster
) -> None:
    requests = int(RATE * DURATION)
    market = rig.seed(users=requests + 100, prefix="cluster")
    api_env = rig.env(
        proxied_database=False,
        OTP_BROKER_URL=cluster.broker_url(API, [0, 1, 2]),
        OTP_BROKER_QUEUE_TYPE="quorum",
    )
    worker_env = rig.env(
        proxied_database=False,
        OTP_BROKER_URL=cluster.broker_url(WORKER, [1, 2, 0]),
        OTP_BROKER_QUEUE_TYPE="quorum",
    )
    api = http_service("api", api_env, workers=2, threads=8)
    worker = worker_service(worker_env, threads=8)
    rig.leak_guard.watch(api, worker)

    with running(api, worker):
        with (
            Load(api.base_url, concurrency=16) as load,
            NodeKiller(cluster, [(FIRST_KILL_AFTER, API), (SECOND_KILL_AFTER, WORKER)]) as killer,
        ):
            answers = list(
                load.paced(
                    lambda n: (
                        market.usernames[n],
                        otp_request(
                            {"ClientID": market.client_id, "Username": market.usernames[n]}
                        ),
                    ),
                    rate=RATE,
                    duration=DURATION,
                )
            )
        accepted = {answer.key for answer in answers if answer.status == 204}
        rig.receiver.ledger.wait_for(
            lambda ledger: ledger.accepted_usernames() >= accepted, timeout=180
        )
        queues = cluster.queues()

    assert killer.error is None, repr(killer.error)
    ledger = rig.receiver.ledger
    rig.leak_guard.saw_codes(ledger.codes())
    # The leak guard scans the session's vhost; the cluster's queues are scanned here.
    queue_leaks, queue_scan = scan_queues(cluster.live_node().url(API), ledger.codes(), queues)
    webhook_ids: dict[str, set[str]] = {}
    for webhook_id, hits in ledger.accepted().items():
        webhook_ids.setdefault(hits[0].username, set()).add(webhook_id)
    delivered = accepted & ledger.accepted_usernames()
    lost = accepted - delivered
    refused = [a for a in answers if a.status == 503]
    sent_at = {answer.key: answer.started for answer in answers if answer.status == 204}
    kill_times = [loss.killed_at for loss in killer.losses]
    for index, loss in enumerate(killer.losses, start=1):
        until = kill_times[index] if index < len(kill_times) else float("inf")
        # By when the 503 was answered: a request in flight at the SIGKILL belongs to it.
        refused_after = [a.finished for a in refused if loss.killed_at <= a.finished < until]
        api_back = first_204_after(answers, loss.killed_at)
        # The first webhook of a request sent after the kill: the whole path works again.
        worker_back = min(
            (
                hit.received_at
                for hit in ledger.snapshot()
                if sent_at.get(hit.username, 0.0) >= loss.killed_at
            ),
            default=None,
        )
        rig.figures.record(
            f"cluster_node_loss_{index}",
            killed=loss.node.name.split("@")[0],
            connected_when_killed=sorted(loss.affected),
            reconnected_seen_after_s={
                user: round(at - loss.killed_at, 1) for user, at in loss.seen_elsewhere_at.items()
            },
            api_first_204_after_s=None if api_back is None else round(api_back - loss.killed_at, 1),
            first_delivery_of_a_new_request_after_s=(
                None if worker_back is None else round(worker_back - loss.killed_at, 1)
            ),
            node_down_s=round(loss.restarted_at - loss.killed_at, 1),
            quorum_leaders_lost=loss.leading,
            refused_503=len(refused_after),
            refused_503_from_s=(
                round(min(refused_after) - loss.killed_at, 1) if refused_after else None
            ),
            refused_503_until_s=(
                round(max(refused_after) - loss.killed_at, 1) if refused_after else None
            ),
        )
    rig.figures.record(
        "cluster_node_loss",
        requests=len(answers),
        accepted_204=len(accepted),
        refused_503=len(refused),
        delivered=len(delivered),
        lost=len(lost),
        duplicates=ledger.duplicates(),
        kills=sum(node.kills for node in cluster.nodes),
        cluster_queues_scanned=queue_scan.queues,
        cluster_messages_scanned=queue_scan.messages,
    )

    # What the test stands on: both kills happened, each on the node its target was on,
    # and between them the api and the workers each lost their node once.
    assert [loss.target for loss in killer.losses] == [API, WORKER]
    assert {API, WORKER} <= set().union(*(loss.affected for loss in killer.losses))
    for loss in killer.losses:
        assert set(loss.seen_elsewhere_at) == loss.affected, (
            f"not seen on another node after {loss.node.name} died: "
            f"{sorted(loss.affected - set(loss.seen_elsewhere_at))}"
        )
    expected = {f"{queue}{suffix}" for queue in ALL_QUEUES for suffix in ("", ".DQ", ".XQ")}
    assert expected <= set(queues)
    assert {queues[name]["type"] for name in expected} == {"quorum"}
    # Replicated on all three nodes, so losing one loses no queue.
    assert all(len(queues[name]["members"]) == 3 for name in expected)  # type: ignore[arg-type]
    # The guarantees: only 204 or 503, every 204 delivered once, nothing leaked.
    assert {a.status for a in answers} <= {204, 503}, sorted({a.status for a in answers})
    assert accepted, "no request was accepted"
    assert not lost, f"answered 204 but never delivered: {sorted(lost)[:5]}"
    assert all(len(webhook_ids[username]) == 1 for username in accepted), "a second message"
    assert all(len(codes) == 1 for codes in ledger.codes_by_username().values())
    assert all(hit.signature_valid for hit in ledger.snapshot())
    assert queue_scan.queues >= len(expected)
    assert not queue_leaks, f"issued codes found in the cluster's queues: {queue_leaks[:5]}"
