"""The payout provider's bank list, kept between requests.

Send money and Pay out show the list on every page and check the chosen bank against it on
every post; asking the provider each time costs a round trip to it per page, and a timeout per
page while it is down. The list is kept for `BANK_LIST_TTL` seconds under the provider's name,
the adapter mode and the API's base URL (another provider, the sandbox or another address is
another list), and a provider that could not answer is remembered as such for
`BANK_LIST_RETRY_SECONDS`: an outage costs one timeout per that many seconds, and a provider
that has recovered is seen again soon after.

With `REDIS_URL` the list lives in Redis, shared by every web process (the app's one client,
`lumipay.extensions.redis_connection`), and each process keeps what it read until that entry
expires; without Redis, or while it can't be reached, in this process alone. Ages are
measured on the app's clock (`lumipay.clock`), so tests move time instead of sleeping; Redis
also drops an entry by itself once it is that old.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from flask import current_app
from redis.exceptions import RedisError

from lumipay import clock, settings
from lumipay.extensions import redis_connection
from lumipay.providers.bank import Bank, ProviderError

log = logging.getLogger(__name__)

PREFIX = "lumipay:bank-list:"
_LOCAL = "lumipay_bank_lists"


def cache_key(name: str) -> str:
    """Which list: the provider's name, the adapter mode and, over HTTP, the API's address."""
    mode = settings.bank().provider_mode
    address = ""
    if mode == "http":
        config = settings.providers()
        address = config.moniepoint_base_url if name == "moniepoint" else config.uba_base_url
    return f"{PREFIX}{name}:{mode}:{address.rstrip('/')}"


Entry = tuple[datetime, list[Bank] | None]
"""When the list was asked for, and what came (None: the provider could not answer)."""


def _local() -> dict[str, Entry]:
    found: dict[str, Entry] = current_app.extensions.setdefault(_LOCAL, {})
    return found


def _fresh(entry: Entry | None, now: datetime) -> bool:
    if entry is None:
        return False
    kept = settings.bank()
    at, found = entry
    seconds = kept.bank_list_ttl if found is not None else kept.bank_list_retry_seconds
    return at <= now < at + timedelta(seconds=seconds)


def _from_redis(key: str) -> Entry | None:
    try:
        raw = redis_connection().get(key)
    except RedisError:
        log.warning("bank list: redis unavailable, kept in this process")
        return None
    if raw is None:
        return None
    data = json.loads(raw)
    found = data["banks"]
    return (
        datetime.fromisoformat(data["at"]),
        None if found is None else [Bank(code, label) for code, label in found],
    )


def _to_redis(key: str, entry: Entry, seconds: int) -> None:
    at, found = entry
    value = None if found is None else [[bank.code, bank.name] for bank in found]
    try:
        redis_connection().set(
            key, json.dumps({"at": at.isoformat(), "banks": value}), ex=max(1, seconds)
        )
    except RedisError:
        log.warning("bank list: redis unavailable, kept in this process")


def banks(name: str, fetch: Callable[[], list[Bank]]) -> list[Bank] | None:
    """The list of provider `name` (from `fetch` when none is kept), or None while it can't
    answer.

    This process keeps a copy of what it read or wrote in Redis, until the same moment the
    entry itself expires, so a page usually costs no round trip at all."""
    kept = settings.bank()
    if kept.bank_list_ttl <= 0:
        return _fetched(fetch)
    key = cache_key(name)
    now = clock.now()
    local = _local()
    shared = bool(settings.core().redis_url)
    entry = local.get(key)
    if not _fresh(entry, now) and shared:
        entry = _from_redis(key)
    if entry is None or not _fresh(entry, now):
        entry = (now, _fetched(fetch))
        if shared:
            seconds = kept.bank_list_ttl if entry[1] is not None else kept.bank_list_retry_seconds
            _to_redis(key, entry, seconds)
    local[key] = entry
    return None if entry[1] is None else list(entry[1])


def _fetched(fetch: Callable[[], list[Bank]]) -> list[Bank] | None:
    try:
        return fetch()
    except ProviderError:
        log.warning("bank list unavailable")
        return None


def forget() -> None:
    """Drop every kept list, in Redis and in this process (tests; a provider's list changed)."""
    _local().clear()
    if settings.core().redis_url:
        client = redis_connection()
        for key in client.scan_iter(match=PREFIX + "*"):
            client.delete(key)
