"""`best_app.models`: the tables only. Repositories build Core statements from them and return
plain rows, so a mapped class carries no relationship (one would invite lazy loading, which
async code cannot do, and an identity map that nothing reads)."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from best_app.models import Base


@pytest.mark.parametrize("mapper", Base.registry.mappers, ids=lambda m: m.class_.__name__)
def test_no_mapped_class_has_a_relationship(mapper: object) -> None:
    assert list(inspect(mapper).relationships) == []


def test_every_table_is_mapped() -> None:
    mapped = {mapper.local_table for mapper in Base.registry.mappers}
    assert mapped == set(Base.metadata.tables.values())
    assert set(Base.metadata.tables) == {"users", "cars", "ownerships", "sessions"}
