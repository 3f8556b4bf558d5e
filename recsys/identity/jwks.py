"""An identity provider's signing keys (its JWKS), kept in memory.

Keys, not tokens, are cached: a token is verified on every request. The set is fetched
again after ``refresh_s``, and sooner when a token names a key the set does not hold (the
provider rotated its keys), but at most once every MIN_REFETCH_S so tokens with made-up
``kid``s cannot make every request fetch the set.
"""

from __future__ import annotations

import logging
import threading
import time

import requests
from joserfc.errors import JoseError
from joserfc.jwk import Key, KeySet

log = logging.getLogger(__name__)

MIN_REFETCH_S = 10.0
FETCH_TIMEOUT_S = 5.0


class UnknownKey(Exception):
    """The set holds no key with that kid, even after fetching it again."""


class JwksUnavailable(Exception):
    """The set could not be fetched and none is kept."""


class JwksKeys:
    def __init__(self, url: str, refresh_s: float = 300.0, clock=time.monotonic):
        self.url = url
        self.refresh_s = refresh_s
        self._clock = clock
        self._keys: dict[str, Key] = {}
        self._fetched_at: float | None = None
        self._lock = threading.Lock()
        self.fetches = 0

    def key(self, kid: str) -> Key:
        now = self._clock()
        stale = self._fetched_at is None or now - self._fetched_at >= self.refresh_s
        if stale or (kid not in self._keys and now - self._fetched_at >= MIN_REFETCH_S):
            self._refresh(stale)
        found = self._keys.get(kid)
        if found is None:
            raise UnknownKey(kid)
        return found

    def _refresh(self, stale: bool) -> None:
        with self._lock:
            now = self._clock()
            if self._fetched_at is not None and now - self._fetched_at < MIN_REFETCH_S:
                return  # another thread just fetched it
            try:
                answer = requests.get(self.url, timeout=FETCH_TIMEOUT_S)
                answer.raise_for_status()
                keys = KeySet.import_key_set(answer.json()).keys
            except (requests.RequestException, ValueError, KeyError, TypeError, JoseError) as err:
                if not self._keys:
                    raise JwksUnavailable(f"the JWKS at {self.url} cannot be read: {err}") from None
                # keep the keys we have; try again after MIN_REFETCH_S
                log.warning(
                    "JWKS at %s not refreshed, keeping %d keys: %s", self.url, len(self._keys), err
                )
                self._fetched_at = now - max(self.refresh_s - MIN_REFETCH_S, 0) if stale else now
                return
            self.fetches += 1
            self._keys = {k.kid: k for k in keys if k.kid}
            self._fetched_at = now
