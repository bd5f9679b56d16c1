"""Record ids sort in the order they were made, also within one millisecond: the
authentication log and every cursor-paged list rely on it ("newest first")."""

from __future__ import annotations

from ostiary.domain.ids import new_id


def test_ids_made_in_a_burst_sort_in_creation_order() -> None:
    made = [new_id("evt") for _ in range(2000)]  # far more than one per millisecond
    assert made == sorted(made)
    assert len(set(made)) == len(made)


def test_ids_keep_their_shape() -> None:
    value = new_id("usr")
    assert value.startswith("usr_") and 30 == len(value)
