"""Bench data, written straight into the bench database with COPY.

One marketplace: a buyer, an API client that allows any buyer, a buyer-level
security profile (Shopper, MeAdmin), and a legacy OneTimePassword webhook sender pointing
at the receiver. Users are buyer users named ``user0000001`` ... with one shared,
precomputed argon2id hash (hashing a million passwords would take hours and measures
nothing). OTP rows for the token benchmark are made the way the fan-out makes them: a
random nonce, the code derived from it, the keyed lookup hash stored.
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg.types.json import Jsonb

from core.identity.passwords import PasswordHasher
from core.otp.codes import derive_code, lookup_hash, new_nonce
from core.platform.settings import Argon2Parameters

USER_FORMAT = "user%07d"
BUYER_ID = "bench-buyer"
PROFILE_ID = "bench-shopper"
SENDER_ID = "bench-webhook"
SHARED_KEY = "bench-shared-key-0123456789"
PASSWORD = "bench-password-1"


def username(number: int) -> str:
    return USER_FORMAT % number


def user_id(number: int) -> str:
    return f"u{number:07d}"


@dataclass(frozen=True)
class Marketplace:
    client_id: str
    users: int


def new_client_id() -> str:
    return str(uuid.uuid4()).upper()


def seed_marketplace(connection: psycopg.Connection, *, client_id: str, webhook_url: str) -> None:
    """The client (``client_id``), buyer, profile and webhook sender."""
    now = datetime.now(UTC)
    connection.execute(
        "INSERT INTO buyers (id, name, active, xp, created_at) VALUES (%s, 'Bench', true, %s, %s)",
        (BUYER_ID, Jsonb({}), now),
    )
    connection.execute(
        "INSERT INTO api_clients (id, app_name, access_token_duration, refresh_token_duration,"
        " active, allow_any_buyer, allow_seller, xp, created_at)"
        " VALUES (%s, 'Bench storefront', 600, 0, true, true, false, %s, %s)",
        (client_id, Jsonb({}), now),
    )
    connection.execute(
        "INSERT INTO security_profiles (id, name, roles, custom_roles, password_config,"
        " created_at) VALUES (%s, 'Shopper', %s, %s, %s, %s)",
        (PROFILE_ID, Jsonb(["Shopper", "MeAdmin"]), Jsonb([]), Jsonb({}), now),
    )
    # Buyer level: marketplace-level profiles apply to admin users only (as in OrderCloud).
    connection.execute(
        "INSERT INTO security_profile_assignments (security_profile_id, buyer_id) VALUES (%s, %s)",
        (PROFILE_ID, BUYER_ID),
    )
    connection.execute(
        "INSERT INTO message_senders (id, name, message_types, url, shared_key,"
        " elevated_roles, allow_all_buyers, xp, template_overrides, created_at)"
        " VALUES (%s, 'Bench webhook', %s, %s, %s, %s, true, %s, %s, %s)",
        (
            SENDER_ID,
            Jsonb(["OneTimePassword"]),
            webhook_url,
            SHARED_KEY,
            Jsonb([]),
            Jsonb({}),
            Jsonb({}),
            now,
        ),
    )
    connection.execute(
        "INSERT INTO message_sender_assignments (message_sender_id) VALUES (%s)", (SENDER_ID,)
    )


def shared_password_hash() -> str:
    return PasswordHasher(Argon2Parameters()).hash(PASSWORD)


def seed_users(
    connection: psycopg.Connection, *, first: int, count: int, password_hash: str
) -> float:
    """Add users ``first`` .. ``first + count - 1``; returns the seconds it took.

    Large batches drop the users table's secondary indexes (whatever the migrations made),
    COPY, then rebuild them: building an index once is much faster than maintaining it
    row by row.
    """
    started = time.monotonic()
    rebuild = count >= 100_000
    indexes = secondary_indexes(connection, "users") if rebuild else []
    for name, _ in indexes:
        connection.execute(f'DROP INDEX "{name}"')
    now = datetime.now(UTC).isoformat()
    columns = (
        "id, user_type, buyer_id, username, email, first_name, last_name, active, xp,"
        " password_hash, failed_login_attempts, locked, created_at"
    )
    with connection.cursor() as cursor, cursor.copy(f"COPY users ({columns}) FROM STDIN") as copy:
        for number in range(first, first + count):
            name = username(number)
            copy.write(
                f"{user_id(number)}\tbuyer\t{BUYER_ID}\t{name}\t{name}@bench.example\tBench\t"
                f"User {number}\tt\t{{}}\t{password_hash}\t0\tf\t{now}\n"
            )
    for _, definition in indexes:
        connection.execute(definition)
    # VACUUM too, not only ANALYZE: the new rows' visibility is settled now, rather than by
    # autovacuum (it starts on a freshly loaded table within a minute) during a measurement.
    connection.execute("VACUUM (ANALYZE) users")
    return time.monotonic() - started


def secondary_indexes(connection: psycopg.Connection, table: str) -> list[tuple[str, str]]:
    """(name, CREATE INDEX statement) of each index of ``table`` but its primary key."""
    rows = connection.execute(
        "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x"
        " JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid"
        " WHERE t.relname = %s AND NOT x.indisprimary ORDER BY i.relname",
        (table,),
    ).fetchall()
    return [(str(name), str(definition)) for name, definition in rows]


def seed_otps(
    connection: psycopg.Connection,
    *,
    client_id: str,
    secret_key: bytes,
    length: int,
    numbers: list[int],
    lifetime: timedelta = timedelta(minutes=30),
) -> list[tuple[str, str]]:
    """One fresh OTP for each user number; returns (username, code) pairs to log in with."""
    now = datetime.now(UTC)
    expires = now + lifetime
    request_id = f"bench-{uuid.uuid4().hex[:16]}"
    credentials: list[tuple[str, str]] = []
    with (
        connection.cursor() as cursor,
        cursor.copy(
            "COPY one_time_passwords (id, user_id, client_id, request_id, nonce, lookup_hash,"
            " created_at, expires_at) FROM STDIN"
        ) as copy,
    ):
        for number in numbers:
            nonce = new_nonce()
            code = derive_code(secret_key, nonce, length)
            uid = user_id(number)
            digest = lookup_hash(secret_key, user_id=uid, client_id=client_id, code=code)
            copy.write_row(
                (str(uuid.uuid4()), uid, client_id, request_id, nonce, digest, now, expires)
            )
            credentials.append((username(number), code))
    connection.execute("ANALYZE one_time_passwords")
    return credentials


def sample_users(total: int, count: int, *, seed: int = 7) -> list[int]:
    """``count`` distinct user numbers spread over the whole population."""
    return random.Random(seed).sample(range(1, total + 1), min(count, total))
