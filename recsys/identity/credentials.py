"""Listeners' sign-in names and password hashes (identity.listener_logins)."""

from __future__ import annotations

import psycopg

from recsys.identity import passwords


class UsernameTaken(Exception):
    pass


def create(conn, user_id: str, username: str, password: str) -> None:
    """Give ``user_id`` a login, in the caller's transaction; UsernameTaken if the name
    (in any case) is someone's."""
    try:
        with conn.transaction():
            conn.execute(
                "insert into identity.listener_logins (user_id, username, password_hash)"
                " values (%s, %s, %s)",
                (user_id, username, passwords.hash_password(password)),
            )
    except psycopg.errors.UniqueViolation:
        raise UsernameTaken(username) from None


def check(conn, username: str, password: str) -> str | None:
    """The listener's id if ``password`` is ``username``'s, else None (in the same time
    whether or not the name exists)."""
    row = conn.execute(
        "select user_id, password_hash from identity.listener_logins"
        " where lower(username) = lower(%s)",
        (username,),
    ).fetchone()
    if row is None:
        passwords.verify_password(passwords.DUMMY_HASH, password)
        return None
    user_id, stored = row
    if not passwords.verify_password(stored, password):
        return None
    rehashed = passwords.hash_password(password) if passwords.needs_rehash(stored) else stored
    conn.execute(
        "update identity.listener_logins set signed_in_at = now(), password_hash = %s"
        " where user_id = %s",
        (rehashed, user_id),
    )
    return user_id
