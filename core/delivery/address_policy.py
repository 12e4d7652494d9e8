"""Where webhooks and mail may connect: ``OTP_BLOCKED_TARGET_NETWORKS``.

Delivery targets are written by admin API callers, so without a policy a target could
point the workers at the service's own ports, PostgreSQL, or a cloud metadata address,
and the delivery's status would report what answered. The check is made on the address
a connection actually goes to, after DNS resolution (:meth:`AddressPolicy.resolve`), so a
name that resolves to a blocked address, a rebinding name, or another spelling of an
address (``2130706433``, ``[::ffff:127.0.0.1]``) is refused the same way. The admin API
also refuses a blocked literal address when a target is saved (:meth:`literal_refusal`).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

from core.platform.settings import DEFAULT_BLOCKED_NETWORKS, IPNetwork, Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_LOCALHOST_NAMES = ("localhost", "localhost.")


class BlockedDestination(Exception):
    """The destination is in a blocked network; the message names the address only."""

    def __init__(self, address: str) -> None:
        super().__init__(f"destination {address} is in a blocked network")
        self.address = address


@dataclass(frozen=True)
class AddressPolicy:
    """The networks no delivery may connect to; empty allows everything."""

    blocked: tuple[IPNetwork, ...] = DEFAULT_BLOCKED_NETWORKS

    @classmethod
    def of(cls, settings: Settings) -> AddressPolicy:
        return cls(settings.blocked_target_networks)

    def is_blocked(self, address: str | IPAddress) -> bool:
        ip = ipaddress.ip_address(address) if isinstance(address, str) else address
        if isinstance(ip, ipaddress.IPv6Address):
            ip = ip.ipv4_mapped or ip.sixtofour or ip
            ip = ipaddress.ip_address(str(ip).split("%")[0])
        return any(ip.version == network.version and ip in network for network in self.blocked)

    def resolve(self, host: str, port: int) -> str:
        """The first resolved address of ``host`` that is allowed; the one to connect to.

        :class:`BlockedDestination` naming the first address when every one is blocked;
        ``OSError`` (``socket.gaierror``) when the name does not resolve.
        """
        name = host.strip("[]")
        if not self.blocked:
            return name
        infos = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
        addresses = [str(info[4][0]) for info in infos]
        for address in addresses:
            if not self.is_blocked(address):
                return address
        raise BlockedDestination(addresses[0] if addresses else name)

    def literal_refusal(self, host: str) -> str | None:
        """Why a target's host, written as an address (in any spelling), is refused."""
        if not self.blocked:
            return None
        name = host.strip("[]").lower()
        if name in _LOCALHOST_NAMES or name.endswith(".localhost"):
            return str(BlockedDestination(name))
        address = _literal_address(name)
        if address is not None and self.is_blocked(address):
            return str(BlockedDestination(str(address)))
        return None


def _literal_address(name: str) -> IPAddress | None:
    """``127.0.0.1``, ``::1``, and the legacy IPv4 spellings ``2130706433``, ``0x7f.1``."""
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(name))
    except (OSError, ValueError):
        return None
