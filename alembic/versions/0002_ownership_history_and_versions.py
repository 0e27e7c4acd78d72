"""Ownership history (with one open period per existing car) and row versions.

Revision ID: 0002_ownership_history
Revises: 0001_create_users_and_cars
Create Date: 2026-11-25

Backfill: every existing car gets one open period for its current owner. There is no
purchase time to copy, so `since` is the time this migration ran (its transaction's `now()`):
the one instant at which the ownership is known to hold. The owner's `created_at` would be a
guess (they may have bought the car years after registering).

Written for a full table: the table is filled by one INSERT ... SELECT before its foreign keys
and indexes exist, then each key is checked and each index built once over all rows (instead
of row by row). Adding `version` with a constant default is a catalog-only change.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_ownership_history"
down_revision: str | Sequence[str] | None = "0001_create_users_and_cars"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("users", "cars"):
        op.add_column(
            table,
            sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        )
    op.create_table(
        "ownerships",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("car_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column(
            "since", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("until", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("until IS NULL OR until >= since", name="ownership_period_order"),
        sa.PrimaryKeyConstraint("id", name="pk_ownerships"),
    )
    op.execute(
        "INSERT INTO ownerships (car_id, owner_id, username, since) "
        "SELECT cars.id, cars.owner_id, users.username, now() "
        "FROM cars JOIN users ON users.id = cars.owner_id ORDER BY cars.id"
    )
    op.create_foreign_key(
        "fk_ownerships_car_id_cars", "ownerships", "cars", ["car_id"], ["id"], ondelete="CASCADE"
    )
    op.create_foreign_key(
        "fk_ownerships_owner_id_users",
        "ownerships",
        "users",
        ["owner_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_index("ix_ownerships_car_id", "ownerships", ["car_id", "id"])
    op.create_index("ix_ownerships_owner_id", "ownerships", ["owner_id"])
    op.create_index(
        "uq_ownerships_open",
        "ownerships",
        ["car_id"],
        unique=True,
        postgresql_where=sa.text("until IS NULL"),
    )


def downgrade() -> None:
    # The history goes with its table; owners stay in cars.owner_id, as before 0002.
    op.drop_table("ownerships")
    for table in ("cars", "users"):
        op.drop_column(table, "version")
