"""audit lanes: audit_events.lane (with an index on lane, id), witness_id, witness_hash

The audit log becomes several independent hash chains ("lanes"), so that writers on different processes
and nodes no longer wait for each other (idp/events.py). Every existing event is in lane 0 (the server
default) and keeps its hash: the one chain continues as lane 0 and still verifies. Nothing here needs
the master key.

Stop every process of the previous version before new ones start writing: an old process would append
after the newest event of any lane, which `idp audit verify` reports as a broken link in lane 0.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lane', sa.Integer(), server_default=sa.text('0'), nullable=False))
        batch_op.add_column(sa.Column('witness_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('witness_hash', sa.String(length=64), nullable=True))
        batch_op.create_index('ix_audit_events_lane_id', ['lane', 'id'], unique=False)


def downgrade():
    # Events in lanes other than 0 cannot be verified as one chain: a downgrade ends the chain's protection
    # for them (their rows stay, with hashes over a lane that is no longer stored).
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_lane_id')
        batch_op.drop_column('witness_hash')
        batch_op.drop_column('witness_id')
        batch_op.drop_column('lane')
