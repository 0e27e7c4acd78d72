"""Create users and cars.

Revision ID: 0001_create_users_and_cars
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_create_users_and_cars"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.Date(), server_default=sa.text("CURRENT_DATE"), nullable=False),
        sa.Column("role", sa.String(length=16), server_default="employee", nullable=False),
        sa.CheckConstraint("role IN ('student', 'teacher', 'employee')", name="role_types"),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("username", name="uq_users_username"),
    )
    op.create_table(
        "cars",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("model", sa.String(length=128), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name="fk_cars_owner_id_users", ondelete="NO ACTION"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_cars"),
    )
    op.create_index("ix_cars_owner_id", "cars", ["owner_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_cars_owner_id", table_name="cars")
    op.drop_table("cars")
    op.drop_table("users")
