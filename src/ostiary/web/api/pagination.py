"""Cursor pagination: ``page_size`` (1 to 100, default 10) and a ``page_token``.

A token is ``<list>.<last key in lower-case hex>``: lists are ordered by a unique, time-sortable
key (ids are ULIDs), so the next page is simply "after that key". Any key of printable ASCII is a
valid place to start after, so the OpenAPI document can state exactly which tokens each list
takes (:func:`token_pattern`); any other token (another list's, or one that was altered into
something else) is refused with 422 ``invalid_page_token``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from typing import Annotated, TypeVar

from fastapi import Query

from ostiary.web.api.errors import invalid_argument
from ostiary.web.api.models import documented_pattern

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "PageRequest",
    "encode_token",
    "page_of",
    "paging",
    "token_pattern",
]

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 100
MAX_KEY_LENGTH = 200
# One byte of printable ASCII (0x21-0x7e: ids, permission names, key ids) in lower-case hex.
HEX_PRINTABLE = "(?:2[1-9a-f]|[3-6][0-9a-f]|7[0-9a-e])"

T = TypeVar("T")


@dataclasses.dataclass(frozen=True, slots=True)
class PageRequest:
    list_name: str
    size: int
    after: str | None

    def next_token(self, next_after: str | None) -> str | None:
        return None if next_after is None else encode_token(self.list_name, next_after)


def encode_token(list_name: str, after: str) -> str:
    return f"{list_name}.{after.encode('ascii').hex()}"


def token_pattern(list_name: str) -> str:
    """The tokens of one list, as a regular expression (the same in Python and ECMAScript); the
    empty token, like none, asks for the first page."""
    return rf"^(?:{re.escape(list_name)}\.{HEX_PRINTABLE}{{1,{MAX_KEY_LENGTH}}})?$"


def _decode_token(list_name: str, token: str) -> str:
    if re.fullmatch(token_pattern(list_name), token) is None:
        raise invalid_argument(
            "page_token",
            "invalid_page_token",
            "page_token is not a next_page_token of this list; start again without it.",
        )
    return bytes.fromhex(token.partition(".")[2]).decode("ascii")


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
        # A default rather than Annotated: the pattern depends on list_name, which the
        # annotation (a string here) could not see.
        page_token: str | None = Query(
            None,
            description="The `next_page_token` of the previous page; leave out for the first.",
            # Documented, and checked by _decode_token, which refuses any other token with its
            # own rule (invalid_page_token) rather than a generic pattern mismatch.
            json_schema_extra=documented_pattern(token_pattern(list_name)),
        ),
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
