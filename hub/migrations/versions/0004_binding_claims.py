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
    pass


def downgrade() -> None:
    pass
