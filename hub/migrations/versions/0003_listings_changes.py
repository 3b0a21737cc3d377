"""listings and change sequences

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 19:50:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel
import hub.core.types


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('change_counters',
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('tenant_id')
    )
    op.create_table('listings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('install_id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('vendor_id', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
    sa.Column('last_pushed', sa.JSON(), nullable=False),
    sa.Column('change_seq', sa.BigInteger(), nullable=False),
    sa.Column('created_at', hub.core.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', hub.core.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['install_id'], ['plugin_installs.id'], ),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('install_id', 'product_id')
    )
    with op.batch_alter_table('listings', schema=None) as batch_op:
        batch_op.create_index('ix_listings_changes', ['install_id', 'change_seq', 'id'], unique=False)

    # Rows from before change numbers existed are numbered 1 (cursor 0 still reads them),
    # and each tenant's counter starts there.
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.add_column(sa.Column('change_seq', sa.BigInteger(), nullable=False, server_default='0'))
        batch_op.create_index('ix_products_changes', ['tenant_id', 'change_seq', 'id'], unique=False)
    with op.batch_alter_table('inventory_levels', schema=None) as batch_op:
        batch_op.add_column(sa.Column('change_seq', sa.BigInteger(), nullable=False, server_default='0'))
        batch_op.create_index('ix_inventory_changes', ['tenant_id', 'change_seq', 'id'], unique=False)
    op.execute("UPDATE products SET change_seq = 1")
    op.execute("UPDATE inventory_levels SET change_seq = 1")
    op.execute("INSERT INTO change_counters (tenant_id, seq) SELECT id, 1 FROM tenants")


def downgrade() -> None:
    with op.batch_alter_table('inventory_levels', schema=None) as batch_op:
        batch_op.drop_index('ix_inventory_changes')
        batch_op.drop_column('change_seq')
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.drop_index('ix_products_changes')
        batch_op.drop_column('change_seq')
    with op.batch_alter_table('listings', schema=None) as batch_op:
        batch_op.drop_index('ix_listings_changes')
    op.drop_table('listings')
    op.drop_table('change_counters')
