"""A three-node RabbitMQ cluster on loopback, of this test's own, whose nodes can be SIGKILLed.

Each node is a separate ``rabbitmq-server`` (the Erlang VM run directly from
``/usr/lib/rabbitmq/bin``, not Debian's wrapper, which would switch to the ``rabbitmq``
user and write the system node's startup log) with its own node name, AMQP and
distribution ports, data and log directories, an empty plugin list (no management port)
and a config file of its own, so nothing is read from ``/etc/rabbitmq``: the machine's
RabbitMQ on 5672 is never touched. The nodes and the CLI share an Erlang cookie written
to a ``HOME`` of the cluster's own. Ports are taken below the kernel's ephemeral range,
where an outgoing connection cannot be holding them when a node (re)starts.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.processes import ports_below_ephemeral_range

RABBITMQ_BIN = Path(os.environ.get("OTP_TEST_RABBITMQ_BIN", "/usr/lib/rabbitmq/bin"))
PASSWORD = "otp-cluster-password"  # every user's; the cluster listens on loopback only
STARTUP_TIMEOUT = 180

_LOOPBACK_DISTRIBUTION = "-kernel inet_dist_use_interface {127,0,0,1}"


def available() -> str | None:
    """Why a cluster cannot be started here, or None when it can."""
    for tool in ("rabbitmq-server", "rabbitmqctl"):
        if not (RABBITMQ_BIN / tool).exists():
            return f"{RABBITMQ_BIN / tool} not found (set OTP_TEST_RABBITMQ_BIN)"
    return None


@dataclass(eq=False)  # hashable by identity: sets of nodes
class RabbitNode:
    """One node: started, SIGKILLed (with everything the VM forked) and started again."""

    name: str  # e.g. otp-c1-1a2b3c@localhost
    amqp_port: int
    dist_port: int
    base: Path
    home: Path
    process: subprocess.Popen[bytes] | None = None
    kills: int = 0
    log_paths: list[Path] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("RABBITMQ_")}
        env.update(
            {
                "HOME": str(self.home),
                "RABBITMQ_NODENAME": self.name,
                "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
                "RABBITMQ_NODE_PORT": str(self.amqp_port),
                "RABBITMQ_DIST_PORT": str(self.dist_port),
                "RABBITMQ_MNESIA_BASE": str(self.base / "data"),
                "RABBITMQ_LOG_BASE": str(self.base / "log"),
                "RABBITMQ_CONFIG_FILE": str(self.base / "rabbitmq.conf"),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.base / "enabled_plugins"),
                "RABBITMQ_CONF_ENV_FILE": str(self.base / "rabbitmq-env.conf"),
                "ERL_EPMD_ADDRESS": "127.0.0.1",
                "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": _LOOPBACK_DISTRIBUTION,
            }
        )
        return env

    def prepare(self) -> None:
        for folder in ("data", "log"):
            (self.base / folder).mkdir(parents=True, exist_ok=True)
        # Only loopback clients; guest stays refused remotely as usual, the test uses its own user.
        (self.base / "rabbitmq.conf").write_text("log.console = false\n")
        (self.base / "enabled_plugins").write_text("[].\n")
        (self.base / "rabbitmq-env.conf").write_text("")

    def start(self) -> None:
        log_path = self.base / f"server-{len(self.log_paths) + 1}.log"
        self.log_paths.append(log_path)
        with log_path.open("wb") as sink:
            self.process = subprocess.Popen(
                [str(RABBITMQ_BIN / "rabbitmq-server")],
                env=self.env(),
                cwd=self.base,
                stdout=sink,
                stderr=sink,
                start_new_session=True,
            )

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the node's process group: the VM ends with no shutdown of any kind."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self.kills += 1

    def ctl(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(RABBITMQ_BIN / "rabbitmqctl"), "-n", self.name, *args],
            env=self.env(),
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )

    def must(self, *args: str, timeout: float = 120) -> str:
        result = self.ctl(*args, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(
                f"rabbitmqctl -n {self.name} {' '.join(args)} failed: "
                f"{result.stdout}{result.stderr}\n{self.server_output()[-3000:]}"
            )
        return result.stdout

    def await_startup(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if not self.running:
                raise RuntimeError(f"node {self.name} exited:\n{self.server_output()[-3000:]}")
            result = self.ctl("await_startup", "--timeout", "30", timeout=60)
            if result.returncode == 0:
                return
            time.sleep(1)
        raise RuntimeError(f"node {self.name} did not start in {STARTUP_TIMEOUT} s")

    def server_output(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.log_paths if p.exists())

    def url(self, user: str, vhost: str = "%2F") -> str:
        return f"amqp://{user}:{PASSWORD}@127.0.0.1:{self.amqp_port}/{vhost}"


@dataclass
class RabbitCluster:
    nodes: list[RabbitNode]
    root: Path

    @property
    def first(self) -> RabbitNode:
        return self.nodes[0]

    def live_node(self) -> RabbitNode:
        for node in self.nodes:
            if node.running:
                return node
        raise RuntimeError("no node of the cluster is running")

    def node_on_port(self, port: int) -> RabbitNode:
        return next(node for node in self.nodes if node.amqp_port == port)

    def add_user(self, user: str) -> None:
        """A user with every permission on ``/``: one per process kind, so that
        :meth:`connections_by_user` tells which node each kind is connected to."""
        node = self.live_node()
        node.must("add_user", user, PASSWORD)
        node.must("set_permissions", "-p", "/", user, ".*", ".*", ".*")

    def broker_url(self, user: str, order: list[int]) -> str:
        """``OTP_BROKER_URL`` naming every node, in the order given by node index."""
        return ",".join(self.nodes[index].url(user) for index in order)

    def connections_by_user(self) -> dict[str, set[RabbitNode]]:
        """Which nodes each user's AMQP connections are open on, as the cluster reports it."""
        output = self.live_node().must(
            "-q", "list_connections", "user", "port", "--formatter", "json", timeout=60
        )
        by_user: dict[str, set[RabbitNode]] = {}
        for entry in json.loads(output or "[]"):
            by_user.setdefault(entry["user"], set()).add(self.node_on_port(int(entry["port"])))
        return by_user

    def queues(self, vhost: str = "/") -> dict[str, dict[str, object]]:
        """Every queue's type, leader node and member nodes, as the cluster reports them."""
        output = self.live_node().must(
            "-q",
            "list_queues",
            "-p",
            vhost,
            "name",
            "type",
            "leader",
            "members",
            "--formatter",
            "json",
            timeout=60,
        )
        return {entry["name"]: entry for entry in json.loads(output or "[]")}

    def running_nodes(self) -> set[str]:
        output = self.live_node().must("-q", "cluster_status", "--formatter", "json")
        return set(json.loads(output)["running_nodes"])

    def restart(self, node: RabbitNode) -> None:
        node.start()
        node.await_startup()

    def stop(self) -> None:
        for node in self.nodes:
            if node.running:
                node.kill()


@contextlib.contextmanager
def rabbitmq_cluster(size: int = 3) -> Iterator[RabbitCluster]:
    """Start ``size`` nodes and join them into one cluster; kill every node after."""
    root = Path(tempfile.mkdtemp(prefix="otp-rabbit-cluster-"))
    home = root / "home"
    home.mkdir()
    cookie = home / ".erlang.cookie"
    cookie.write_text(secrets.token_hex(20).upper())
    cookie.chmod(0o400)
    token = secrets.token_hex(3)
    ports = ports_below_ephemeral_range(2 * size)
    nodes = [
        RabbitNode(
            name=f"otp-c{index + 1}-{token}@localhost",
            amqp_port=ports[2 * index],
            dist_port=ports[2 * index + 1],
            base=root / f"node{index + 1}",
            home=home,
        )
        for index in range(size)
    ]
    cluster = RabbitCluster(nodes=nodes, root=root)
    try:
        for node in nodes:
            node.prepare()
            node.start()
        for node in nodes:
            node.await_startup()
        for node in nodes[1:]:
            node.must("stop_app")
            node.must("join_cluster", cluster.first.name)
            node.must("start_app")
            node.await_startup()
        running = cluster.running_nodes()
        assert running == {node.name for node in nodes}, running
        yield cluster
    finally:
        cluster.stop()
        if os.environ.get("OTP_TEST_KEEP_CLUSTER_LOGS") != "1":
            shutil.rmtree(root, ignore_errors=True)
