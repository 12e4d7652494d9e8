"""OTP_BLOCKED_TARGET_NETWORKS: which addresses deliveries may connect to."""

from __future__ import annotations

import ipaddress

import pytest

from core.delivery.address_policy import AddressPolicy, BlockedDestination
from core.platform.errors import SettingsError
from core.platform.settings import DEFAULT_BLOCKED_NETWORKS, load_settings

DEFAULT = AddressPolicy()


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "::1",
        "169.254.169.254",
        "fe80::1",
        "0.0.0.0",
        "::",
        "224.0.0.1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
    ],
)
def test_the_default_policy_blocks_loopback_link_local_unspecified_and_multicast(
    address: str,
) -> None:
    assert DEFAULT.is_blocked(address)


@pytest.mark.parametrize("address", ["10.1.2.3", "192.168.0.10", "172.16.5.4", "93.184.216.34"])
def test_private_and_public_addresses_stay_allowed_by_default(address: str) -> None:
    assert not DEFAULT.is_blocked(address)


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("[::1]", "::1"),
        ("2130706433", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("169.254.169.254", "169.254.169.254"),
        ("localhost", "localhost"),
        ("api.localhost", "api.localhost"),
    ],
)
def test_a_blocked_literal_in_any_spelling_is_refused_naming_the_address(
    host: str, address: str
) -> None:
    assert DEFAULT.literal_refusal(host) == f"destination {address} is in a blocked network"


def test_names_and_allowed_addresses_pass_the_literal_check() -> None:
    assert DEFAULT.literal_refusal("hooks.example.com") is None
    assert DEFAULT.literal_refusal("10.0.0.5") is None
    assert AddressPolicy(blocked=()).literal_refusal("127.0.0.1") is None


def test_resolution_picks_an_allowed_address_or_names_the_blocked_one() -> None:
    with pytest.raises(BlockedDestination, match=r"^destination (127\.0\.0\.1|::1) is in a"):
        DEFAULT.resolve("localhost", 80)
    assert AddressPolicy(blocked=()).resolve("[::1]", 80) == "::1"
    only_ten = AddressPolicy((ipaddress.ip_network("10.0.0.0/8"),))
    assert only_ten.resolve("127.0.0.1", 80) == "127.0.0.1"


def test_the_setting_reads_cidrs_none_or_the_default() -> None:
    assert load_settings({}).blocked_target_networks == DEFAULT_BLOCKED_NETWORKS
    assert load_settings({"OTP_BLOCKED_TARGET_NETWORKS": "none"}).blocked_target_networks == ()
    added = load_settings({"OTP_BLOCKED_TARGET_NETWORKS": "127.0.0.0/8, 10.0.0.0/8,fd00::/8"})
    assert [str(network) for network in added.blocked_target_networks] == [
        "127.0.0.0/8",
        "10.0.0.0/8",
        "fd00::/8",
    ]
    with pytest.raises(SettingsError, match="OTP_BLOCKED_TARGET_NETWORKS"):
        load_settings({"OTP_BLOCKED_TARGET_NETWORKS": "10.0.0.0/33"})
