"""pushed authorization requests (RFC 9126)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-03 20:00:00.000000

Issue 15, PAR: ``oidc_pushed_requests`` holds each pushed authorization request (its validated parameters)
under the digest of the ``request_uri`` given to the client. The authorization endpoint consumes it once
(one conditional UPDATE sets ``used_at`` and extends ``expires_at`` for the login and consent it starts)
and deletes it when the code is issued; the worker's housekeeping purges expired rows.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('oidc_pushed_requests',
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('used_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('digest', name=op.f('pk_oidc_pushed_requests'))
    )
    with op.batch_alter_table('oidc_pushed_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_oidc_pushed_requests_expires_at'), ['expires_at'], unique=False)


def downgrade():
    with op.batch_alter_table('oidc_pushed_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_oidc_pushed_requests_expires_at'))
    op.drop_table('oidc_pushed_requests')
