"""OAuth connect states and install connections

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 19:50:00
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel
import hub.core.types


revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oauth_states",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("state_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("install_id", sa.Integer(), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("code_verifier", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("return_to", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("created_at", hub.core.types.UTCDateTime(), nullable=False),
        sa.Column("expires_at", hub.core.types.UTCDateTime(), nullable=False),
        sa.Column("used_at", hub.core.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["install_id"],
            ["plugin_installs.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("state_hash"),
    )
    with op.batch_alter_table("oauth_states", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_oauth_states_expires_at"), ["expires_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_oauth_states_install_id"), ["install_id"], unique=False
        )

    with op.batch_alter_table("plugin_installs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "connected_account_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column(
                "connected_account_name",
                sqlmodel.sql.sqltypes.AutoString(length=200),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("connected_at", hub.core.types.UTCDateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("connected_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("plugin_installs", schema=None) as batch_op:
        batch_op.drop_column("connected_by")
        batch_op.drop_column("connected_at")
        batch_op.drop_column("connected_account_name")
        batch_op.drop_column("connected_account_id")

    with op.batch_alter_table("oauth_states", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oauth_states_install_id"))
        batch_op.drop_index(batch_op.f("ix_oauth_states_expires_at"))

    op.drop_table("oauth_states")
