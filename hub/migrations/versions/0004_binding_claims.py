"""binding states for claim-before-create

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 19:50:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel
import hub.core.types


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing rows are bindings made before claims existed: all of them are bound.
    with op.batch_alter_table('bindings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False, server_default='bound'))
        batch_op.add_column(sa.Column('claimed_at', hub.core.types.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('claimed_by', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True))
        batch_op.alter_column('vendor_id', existing_type=sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True)


def downgrade() -> None:
    # Unfinished claims have no vendor id: they cannot survive the NOT NULL column.
    op.execute("DELETE FROM bindings WHERE state = 'creating'")
    with op.batch_alter_table('bindings', schema=None) as batch_op:
        batch_op.alter_column('vendor_id', existing_type=sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False)
        batch_op.drop_column('claimed_by')
        batch_op.drop_column('claimed_at')
        batch_op.drop_column('state')
