"""audit checkpoints: where each lane of the audit chain starts after old events were purged

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 20:10:00.000000

Issue 16: the audit log is purged by its own retention rule (``IDP_AUDIT_RETENTION_DAYS``) and its chain
must stay verifiable: each lane's first remaining event links to the checkpoint's hash instead of the
lane's genesis, and the checkpoint carries an HMAC under the audit key.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('audit_checkpoints',
    sa.Column('lane', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=True),
    sa.Column('keyed', sa.Boolean(), nullable=False),
    sa.Column('through_id', sa.Integer(), nullable=False),
    sa.Column('key_id', sa.Integer(), nullable=False),
    sa.Column('mac', sa.String(length=64), nullable=False),
    sa.Column('purged_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('lane', name=op.f('pk_audit_checkpoints'))
    )


def downgrade():
    op.drop_table('audit_checkpoints')
