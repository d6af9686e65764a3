"""device authorization requests (RFC 8628)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 19:45:00.000000

Issue 15, kiosks and counter screens: ``oidc_device_authorizations`` holds each device authorization
request from the device authorization endpoint to its one redemption at the token endpoint: the digests
of its device code and user code (each unique), the scope and ``claims`` asked for, the polling interval (raised by slow_down), the person's
decision with the session facts it was taken under, and when the device code was used.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('oidc_device_authorizations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('device_digest', sa.String(length=64), nullable=False),
    sa.Column('user_digest', sa.String(length=64), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('scope', sa.Text(), nullable=False),
    sa.Column('claims', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('interval', sa.Integer(), nullable=False),
    sa.Column('last_polled_at', sa.DateTime(), nullable=True),
    sa.Column('decision', sa.String(length=5), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('sid', sa.String(length=64), nullable=True),
    sa.Column('auth_time', sa.DateTime(), nullable=True),
    sa.Column('acr', sa.String(length=60), nullable=True),
    sa.Column('amr', sa.JSON(), nullable=True),
    sa.Column('used_at', sa.DateTime(), nullable=True),
    sa.Column('grant_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'],
                            name=op.f('fk_oidc_device_authorizations_account_id_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['grant_id'], ['oidc_grants.id'],
                            name=op.f('fk_oidc_device_authorizations_grant_id_oidc_grants'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_oidc_device_authorizations')),
    sa.UniqueConstraint('device_digest', name=op.f('uq_oidc_device_authorizations_device_digest')),
    sa.UniqueConstraint('user_digest', name=op.f('uq_oidc_device_authorizations_user_digest'))
    )
    with op.batch_alter_table('oidc_device_authorizations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_oidc_device_authorizations_expires_at'), ['expires_at'], unique=False)


def downgrade():
    with op.batch_alter_table('oidc_device_authorizations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_oidc_device_authorizations_expires_at'))
    op.drop_table('oidc_device_authorizations')
