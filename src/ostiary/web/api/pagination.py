"""Cursor pagination: ``page_size`` (1 to 100, default 10) and an opaque ``page_token``.

A token is the URL-safe base64 of ``<list>:<last key>``: lists are ordered by a unique,
time-sortable key (ids are ULIDs), so the next page is simply "after that key". A token from
another list, or one that was altered, is refused with 422 ``invalid_page_token``.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import re
from collections.abc import Callable, Sequence
from typing import Annotated, TypeVar

from fastapi import Query

from ostiary.web.api.errors import invalid_argument

__all__ = ["DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE", "PageRequest", "encode_token", "page_of", "paging"]

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 100
KEY_RE = re.compile(r"^[\x21-\x7e]{1,200}$")  # printable ASCII: ids and permission names

T = TypeVar("T")


@dataclasses.dataclass(frozen=True, slots=True)
class PageRequest:
    list_name: str
    size: int
    after: str | None

    def next_token(self, next_after: str | None) -> str | None:
        return None if next_after is None else encode_token(self.list_name, next_after)


def encode_token(list_name: str, after: str) -> str:
    raw = f"{list_name}:{after}".encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _decode_token(list_name: str, token: str) -> str:
    refused = invalid_argument(
        "page_token",
        "invalid_page_token",
        "page_token is not a next_page_token of this list; start again without it.",
    )
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        raise refused from None
    name, sep, after = raw.partition(":")
    if not sep or name != list_name or not KEY_RE.match(after):
        raise refused
    return after


def paging(list_name: str) -> Callable[..., PageRequest]:
    """A dependency reading ``page_size`` and ``page_token`` for one list."""

    def page_request(
        page_size: Annotated[
            int,
            Query(
                ge=1,
                le=MAX_PAGE_SIZE,
                description=f"How many items per page (1–{MAX_PAGE_SIZE}).",
            ),
        ] = DEFAULT_PAGE_SIZE,
        page_token: Annotated[
            str | None,
            Query(
                max_length=400,
                description="The `next_page_token` of the previous page; leave out for the first.",
            ),
        ] = None,
    ) -> PageRequest:
        after = _decode_token(list_name, page_token) if page_token else None
        return PageRequest(list_name=list_name, size=page_size, after=after)

    return page_request


def page_of(
    items: Sequence[T], key: Callable[[T], str], page: PageRequest
) -> tuple[list[T], int, str | None]:
    """Paginate a short list held in memory (secrets, signing keys) the same way:
    ``(items of this page, total, next token)``."""
    ordered = sorted(items, key=key)
    rest = [item for item in ordered if page.after is None or key(item) > page.after]
    chosen = rest[: page.size]
    more = len(rest) > page.size
    return chosen, len(ordered), page.next_token(key(chosen[-1]) if more else None)
