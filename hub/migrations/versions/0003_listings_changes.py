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
    pass


def downgrade() -> None:
    pass
