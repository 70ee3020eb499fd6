"""The payout provider's bank list, kept between requests.

Send money and Pay out show the list on every page and check the chosen bank against it on
every post; asking the provider each time costs a round trip to it per page, and a timeout per
page while it is down. The list is kept for `BANK_LIST_TTL` seconds under the provider's name,
the adapter mode and the API's base URL (another provider, the sandbox or another address is
another list), and a provider that could not answer is remembered as such for
`BANK_LIST_RETRY_SECONDS`: an outage costs one timeout per that many seconds, and a provider
that has recovered is seen again soon after.

With `REDIS_URL` the list lives in Redis, shared by every web process (the app's one client,
`lumipay.extensions.redis_connection`); without it, or while Redis can't be reached, in this
process. Ages are measured on the app's clock (`lumipay.clock`), so tests move time instead
of sleeping; Redis also drops an entry by itself once it is that old.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

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


def _local() -> dict[str, str]:
    found: dict[str, str] = current_app.extensions.setdefault(_LOCAL, {})
    return found


def _read(key: str) -> str | None:
    if settings.core().redis_url:
        try:
            raw = redis_connection().get(key)
        except RedisError:
            log.warning("bank list: redis unavailable, kept in this process")
        else:
            return raw.decode() if isinstance(raw, bytes) else raw
    return _local().get(key)


def _write(key: str, value: str, seconds: int) -> None:
    if settings.core().redis_url:
        try:
            redis_connection().set(key, value, ex=max(1, seconds))
        except RedisError:
            log.warning("bank list: redis unavailable, kept in this process")
        else:
            return
    _local()[key] = value


def _fresh(entry: dict[str, Any], now: datetime) -> bool:
    kept = settings.bank()
    seconds = kept.bank_list_ttl if entry["banks"] is not None else kept.bank_list_retry_seconds
    at = datetime.fromisoformat(entry["at"])
    return at <= now < at + timedelta(seconds=seconds)


def banks(name: str, fetch: Callable[[], list[Bank]]) -> list[Bank] | None:
    """The list of provider `name` (from `fetch` when none is kept), or None while it can't
    answer."""
    kept = settings.bank()
    if kept.bank_list_ttl <= 0:
        return _fetched(fetch)
    key = cache_key(name)
    now = clock.now()
    raw = _read(key)
    if raw is not None:
        entry = json.loads(raw)
        if _fresh(entry, now):
            found = entry["banks"]
            return None if found is None else [Bank(code, label) for code, label in found]
    listed = _fetched(fetch)
    value = None if listed is None else [[bank.code, bank.name] for bank in listed]
    seconds = kept.bank_list_ttl if listed is not None else kept.bank_list_retry_seconds
    _write(key, json.dumps({"at": now.isoformat(), "banks": value}), seconds)
    return listed


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
