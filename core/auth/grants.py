"""The token handler's grants: password (or OTP), client_credentials and refresh_token.

Each grant authenticates the client, decides, and writes exactly one ``auth_events`` row.
Refusals are :class:`~core.platform.errors.TokenRequestError` subclasses; the api maps them to
the contract's OAuth body.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, bindparam, update

from core.auth.audit import (
    OTP,
    PASSWORD,
    REFRESH,
    SECRET,
    SUCCESS,
    TokenAttempt,
    auth_event_row,
    record_auth_event,
)
from core.auth.authentication import (
    ClientRecord,
    GrantFacts,
    LoginSubject,
    authenticate_client,
    login_subject,
    read_grant_facts,
)
from core.auth.lockout import is_locked, record_failed_attempt, record_successful_login
from core.auth.otp_login import (
    consume_otp,
    sign_in_with_otp,
    signs_in_in_one_statement,
    void_outstanding_otps,
)
from core.auth.refresh_tokens import (
    NewRefreshToken,
    RedeemedRefreshToken,
    end_family_of_replayed_token,
    new_refresh_token,
    redeem_refresh_token,
    store_refresh_token,
)
from core.auth.tokens import TokenKeys
from core.identity.passwords import PasswordHasher
from core.models import User
from core.otp.codes import looks_like_code
from core.platform.clock import Clock
from core.platform.errors import (
    InvalidRefreshToken,
    InvalidUsernameOrPassword,
    LockedOut,
    NoDefaultContextUser,
    TokenRequestError,
)
from core.platform.ids import new_uuid
from core.platform.metrics import record_lockout
from core.platform.settings import Settings

DEFAULT_ACCESS_TOKEN_MINUTES = 600


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int  # seconds
    refresh_token: str | None
    # Set when a one-time password signed the user in: the request_id of the OTP request
    # that issued it, i.e. that flow's correlation id (the token handler logs it).
    otp_request_id: str | None = None


_UPGRADE_HASH = (
    update(User)
    .where(User.id == bindparam("subject_id"))
    .values(password_hash=bindparam("new_hash"))
)


class TokenGrants:
    """Decides token requests against the database; one instance per process.

    A grant reads what it decides on in one statement outside any transaction, checks the
    credential with no connection held, then writes in one short transaction.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        database: Callable[[], Engine],
        keys: TokenKeys,
        hasher: PasswordHasher,
        clock: Clock,
    ) -> None:
        settings.require("secret_key")
        assert settings.secret_key is not None
        self._secret_key = settings.secret_key
        self._otp_length = settings.otp_length
        self._otp_max_failed_attempts = settings.otp_max_failed_attempts
        self._database = database
        self._keys = keys
        self._hasher = hasher
        self._clock = clock

    # -- the grants -------------------------------------------------------------------

    def password(
        self,
        *,
        client_id: str | None,
        client_secret: str | None,
        username: str,
        password: str,
        scope: Sequence[str] | None,
        ip: str | None,
    ) -> IssuedToken:
        """The user's password, or an OTP typed in its place."""
        attempt = TokenAttempt("password", client_id, ip, method=PASSWORD)
        return self._audited(
            attempt,
            lambda now: self._password(
                attempt,
                now,
                client_secret=client_secret,
                username=username,
                password=password,
                scope=scope,
            ),
        )

    def client_credentials(
        self,
        *,
        client_id: str | None,
        client_secret: str | None,
        scope: Sequence[str] | None,
        ip: str | None,
    ) -> IssuedToken:
        """A token for the client's DefaultContextUserName; needs the client's secret."""
        attempt = TokenAttempt("client_credentials", client_id, ip, method=SECRET)
        return self._audited(
            attempt, lambda now: self._client_credentials(attempt, now, client_secret, scope)
        )

    def refresh(
        self,
        *,
        client_id: str | None,
        client_secret: str | None,
        refresh_token: str,
        scope: Sequence[str] | None,
        ip: str | None,
    ) -> IssuedToken:
        """A new access token and a new refresh token; the presented one stops working."""
        attempt = TokenAttempt("refresh_token", client_id, ip, method=REFRESH)
        return self._audited(
            attempt,
            lambda now: self._refresh(attempt, now, client_secret, refresh_token, scope),
        )

    # -- password / OTP -----------------------------------------------------------------

    def _password(
        self,
        attempt: TokenAttempt,
        now: datetime,
        *,
        client_secret: str | None,
        username: str,
        password: str,
        scope: Sequence[str] | None,
    ) -> IssuedToken:
        facts = self._read(attempt.client_id, username=username)
        client = authenticate_client(self._hasher, facts.client, client_secret)
        subject = login_subject(facts, scope)
        if subject is None:
            self._hasher.burn(password)  # as slow as a real check: existence stays hidden
            raise InvalidUsernameOrPassword()
        attempt.user_id = subject.user.id
        if is_locked(subject.user.locked, subject.user.locked_until, now):
            raise LockedOut()
        if looks_like_code(password, self._otp_length):
            attempt.method = OTP
            issued = self._sign_in_with_otp(attempt, now, subject, client, password)
            if issued is not None:
                return issued
        if not self._hasher.verify(subject.user.password_hash, password):
            self._count_failure(subject, now)
        attempt.method = PASSWORD
        return self._sign_in_with_password(attempt, now, subject, client, password)

    def _sign_in_with_otp(
        self,
        attempt: TokenAttempt,
        now: datetime,
        subject: LoginSubject,
        client: ClientRecord,
        candidate: str,
    ) -> IssuedToken | None:
        """Consume the OTP and issue the token atomically; ``None`` if no OTP matched.

        On PostgreSQL, when nothing refuses the user, that is one statement
        (:func:`core.auth.otp_login.sign_in_with_otp`). Otherwise one transaction: taking the
        user's row lock resets the failure counter at once; when no OTP matches, or a
        refusal is raised after consuming, it rolls back: the counter is as it was and an
        inactive user's OTP is not burnt by being told so.
        """
        database = self._database()
        if subject.refusal is None and signs_in_in_one_statement(database):
            return self._sign_in_with_otp_in_one_statement(
                database,
                attempt=attempt,
                now=now,
                subject=subject,
                client=client,
                candidate=candidate,
            )
        user = subject.user
        with database.connect() as connection:
            if not record_successful_login(connection, user.id, now):
                raise LockedOut()
            otp_request_id = consume_otp(
                connection,
                self._secret_key,
                user_id=user.id,
                client_id=client.id,
                candidate=candidate,
                now=now,
            )
            if otp_request_id is None:
                connection.rollback()
                return None
            if subject.refusal is not None:
                raise subject.refusal
            issued = self._issue(connection, attempt, now, subject, client)
            connection.commit()
        return replace(issued, otp_request_id=otp_request_id)

    def _sign_in_with_otp_in_one_statement(
        self,
        database: Engine,
        *,
        attempt: TokenAttempt,
        now: datetime,
        subject: LoginSubject,
        client: ClientRecord,
        candidate: str,
    ) -> IssuedToken | None:
        # Signed first: once the statement committed, nothing may fail and leave the OTP
        # used without a token.
        access_token, expires_in = self._access_token(now, subject, client)
        refresh = self._new_refresh_token(now, subject, client)
        with database.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT")
            otp_request_id = sign_in_with_otp(
                connection,
                self._secret_key,
                user_id=subject.user.id,
                client_id=client.id,
                candidate=candidate,
                now=now,
                auth_event=auth_event_row(attempt, SUCCESS, now),
                refresh_token=None if refresh is None else refresh.row,
            )
        if otp_request_id is None:
            return None
        return IssuedToken(
            access_token,
            expires_in,
            None if refresh is None else refresh.token,
            otp_request_id=otp_request_id,
        )

    def _sign_in_with_password(
        self,
        attempt: TokenAttempt,
        now: datetime,
        subject: LoginSubject,
        client: ClientRecord,
        password: str,
    ) -> IssuedToken:
        if subject.refusal is not None:
            raise subject.refusal
        user = subject.user
        upgraded_hash = None
        if user.password_hash and self._hasher.needs_rehash(user.password_hash):
            upgraded_hash = self._hasher.hash(password)
        with self._transaction() as connection:
            if not record_successful_login(connection, user.id, now):
                raise LockedOut()  # a concurrent failure locked the account meanwhile
            if upgraded_hash is not None:
                connection.execute(
                    _UPGRADE_HASH, {"subject_id": user.id, "new_hash": upgraded_hash}
                )
            return self._issue(connection, attempt, now, subject, client)

    def _count_failure(self, subject: LoginSubject, now: datetime) -> None:
        """Count one failed attempt (password and OTP both wrong is still one) and refuse."""
        with self._transaction() as connection:
            failure = record_failed_attempt(connection, subject.user.id, subject.policy, now)
            # Every outstanding OTP is void once OTP_MAX_FAILED_ATTEMPTS failures were
            # counted, and whenever a lock engages: a timed lock restarts the counter when
            # it lapses, so without the second rule a profile allowing fewer attempts than
            # OTP_MAX_FAILED_ATTEMPTS would never void and each lapse would buy more guesses.
            if failure is not None and (
                failure.locked_now or failure.attempts >= self._otp_max_failed_attempts
            ):
                void_outstanding_otps(connection, user_id=subject.user.id, now=now)
        if failure is not None and failure.locked_now:
            record_lockout()  # only the failure that engaged the lock gets a row back locked
        if failure is None:
            raise LockedOut()
        raise InvalidUsernameOrPassword()

    # -- client_credentials and refresh_token -------------------------------------------

    def _client_credentials(
        self,
        attempt: TokenAttempt,
        now: datetime,
        client_secret: str | None,
        scope: Sequence[str] | None,
    ) -> IssuedToken:
        facts = self._read(attempt.client_id)
        client = authenticate_client(
            self._hasher, facts.client, client_secret, secret_required=True
        )
        username = client.default_context_username
        subject = (
            login_subject(self._read(client.id, username=username), scope) if username else None
        )
        if subject is None:
            raise NoDefaultContextUser()
        attempt.user_id = subject.user.id
        if is_locked(subject.user.locked, subject.user.locked_until, now):
            raise LockedOut()
        if subject.refusal is not None:
            raise subject.refusal
        with self._transaction() as connection:
            return self._issue(connection, attempt, now, subject, client, with_refresh=False)

    def _refresh(
        self,
        attempt: TokenAttempt,
        now: datetime,
        client_secret: str | None,
        refresh_token: str,
        scope: Sequence[str] | None,
    ) -> IssuedToken:
        client = authenticate_client(
            self._hasher, self._read(attempt.client_id).client, client_secret
        )
        if client.refresh_token_duration <= 0:
            raise InvalidRefreshToken()
        with self._transaction() as connection:
            redeemed = redeem_refresh_token(
                connection, self._secret_key, client_id=client.id, token=refresh_token, now=now
            )
            if redeemed is not None:
                return self._refreshed(connection, attempt, now, client, redeemed, scope=scope)
            # Unknown, expired or used. A used token presented again means a copy exists:
            # whoever holds its successor may be the thief, so the whole family ends
            # (committed as the block closes, before the refusal is raised).
            end_family_of_replayed_token(
                connection, self._secret_key, client_id=client.id, token=refresh_token, now=now
            )
        raise InvalidRefreshToken()

    def _refreshed(
        self,
        connection: Connection,
        attempt: TokenAttempt,
        now: datetime,
        client: ClientRecord,
        redeemed: RedeemedRefreshToken,
        *,
        scope: Sequence[str] | None,
    ) -> IssuedToken:
        # A refresh can narrow the roles, never widen them; roles the user has lost
        # since are dropped by login_subject.
        requested = [r for r in scope if r in redeemed.roles] if scope else redeemed.roles
        facts = read_grant_facts(connection, client.id, user_id=redeemed.user_id)
        subject = login_subject(facts, requested)
        if subject is None:
            raise InvalidRefreshToken()
        attempt.user_id = subject.user.id
        if is_locked(subject.user.locked, subject.user.locked_until, now):
            raise LockedOut()
        if subject.refusal is not None:
            raise subject.refusal
        return self._issue(connection, attempt, now, subject, client, family_id=redeemed.family_id)

    # -- shared ---------------------------------------------------------------------------

    def _issue(
        self,
        connection: Connection,
        attempt: TokenAttempt,
        now: datetime,
        subject: LoginSubject,
        client: ClientRecord,
        *,
        with_refresh: bool = True,
        family_id: str | None = None,
    ) -> IssuedToken:
        """Sign the access token, store a refresh token if the client allows, audit success."""
        access_token, expires_in = self._access_token(now, subject, client)
        refresh = self._new_refresh_token(now, subject, client, family_id) if with_refresh else None
        if refresh is not None:
            store_refresh_token(connection, refresh)
        record_auth_event(connection, attempt, SUCCESS, now)
        return IssuedToken(access_token, expires_in, None if refresh is None else refresh.token)

    def _access_token(
        self, now: datetime, subject: LoginSubject, client: ClientRecord
    ) -> tuple[str, int]:
        """The signed access token and its lifetime in seconds."""
        minutes = client.access_token_duration or DEFAULT_ACCESS_TOKEN_MINUTES
        access_token = self._keys.issue_access_token(
            username=subject.user.username,
            user_id=subject.user.id,
            token_version=subject.user.token_version,
            client_id=client.id,
            user_type=subject.user.user_type,
            roles=subject.roles,
            token_id=new_uuid(),
            now=now,
            lifetime=timedelta(minutes=minutes),
        )
        return access_token, minutes * 60

    def _new_refresh_token(
        self,
        now: datetime,
        subject: LoginSubject,
        client: ClientRecord,
        family_id: str | None = None,
    ) -> NewRefreshToken | None:
        """A refresh token to store, when the client gives them out."""
        if client.refresh_token_duration <= 0:
            return None
        return new_refresh_token(
            self._secret_key,
            user_id=subject.user.id,
            client_id=client.id,
            roles=subject.roles,
            now=now,
            lifetime=timedelta(minutes=client.refresh_token_duration),
            family_id=family_id,
        )

    def _read(self, client_id: str | None, *, username: str | None = None) -> GrantFacts:
        """The client (and the user named ``username``), read outside any transaction."""
        if not client_id:
            return GrantFacts(client=None)
        with self._database().connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT")
            return read_grant_facts(connection, client_id, username=username)

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        """One transaction: committed when the block ends, rolled back when it raises."""
        with self._database().begin() as connection:
            yield connection

    def _audited(
        self, attempt: TokenAttempt, decide: Callable[[datetime], IssuedToken]
    ) -> IssuedToken:
        """Run one grant; a refusal is written to the audit trail before it is raised."""
        now = self._clock.now()
        try:
            return decide(now)
        except TokenRequestError as refusal:
            with self._transaction() as connection:
                record_auth_event(connection, attempt, refusal.error_code, now)
            raise
