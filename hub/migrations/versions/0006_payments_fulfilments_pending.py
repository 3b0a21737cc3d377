"""order payments and fulfilments; pending mappings

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 10:00:00
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel
import hub.core.types


revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("fulfilled_quantity", sa.Integer(), nullable=False, server_default="0")
        )

    with op.batch_alter_table("plugin_installs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("configured_at", hub.core.types.UTCDateTime(), nullable=True))

    op.create_table(
        "order_fulfillments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("reference", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("created_at", hub.core.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("order_id", "reference"),
    )
    with op.batch_alter_table("order_fulfillments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_order_fulfillments_order_id"), ["order_id"], unique=False
        )

    op.create_table(
        "pending_mappings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("install_id", sa.Integer(), nullable=False),
        sa.Column("vendor_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("ref", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("seen_at", hub.core.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["install_id"],
            ["plugin_installs.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("install_id", "vendor_id"),
    )
    with op.batch_alter_table("pending_mappings", schema=None) as batch_op:
        batch_op.create_index("ix_pending_mappings_list", ["install_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("pending_mappings", schema=None) as batch_op:
        batch_op.drop_index("ix_pending_mappings_list")
    op.drop_table("pending_mappings")

    with op.batch_alter_table("order_fulfillments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_fulfillments_order_id"))
    op.drop_table("order_fulfillments")

    with op.batch_alter_table("plugin_installs", schema=None) as batch_op:
        batch_op.drop_column("configured_at")

    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.drop_column("fulfilled_quantity")
