"""run checkpoints, attempts and fencing

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 19:50:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel
import hub.core.types


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('job_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('checkpoint', sa.JSON(), nullable=True))

    op.create_table('run_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('worker_name', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('worker_id', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('boot_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('started_at', hub.core.types.UTCDateTime(), nullable=False),
    sa.Column('finished_at', hub.core.types.UTCDateTime(), nullable=True),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('message', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('resumed_from', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['job_runs.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('run_id', 'attempt')
    )

    op.create_table('run_report_parts',
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['job_runs.id'], ),
    sa.PrimaryKeyConstraint('run_id', 'seq')
    )

    # A run left running by a hub without attempts gets the attempt it is in, so fencing
    # and its history start from there.
    op.execute(
        "INSERT INTO run_attempts (run_id, attempt, worker_name, worker_id, boot_id,"
        " started_at, outcome, message)"
        " SELECT id, attempts, '', worker_id, '', COALESCE(started_at, queued_at),"
        " 'running', '' FROM job_runs WHERE state = 'running' AND attempts > 0"
    )


def downgrade() -> None:
    op.drop_table('run_report_parts')
    op.drop_table('run_attempts')
    with op.batch_alter_table('job_runs', schema=None) as batch_op:
        batch_op.drop_column('checkpoint')
