"""upstream identity providers (VNeID, DVCQG, OIDC, Zalo), links to upstream subjects, pending logins

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 09:00:00.000000

MotID as a relying party (issue 14): ``upstream_providers`` (client secrets encrypted under the master
key), ``upstream_links`` (one upstream subject, one account) and ``upstream_logins`` (a login sent
upstream, keyed by the SHA-256 of its ``state`` and consumed once).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('upstream_providers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('issuer', sa.String(length=500), nullable=False),
    sa.Column('client_id', sa.String(length=200), nullable=False),
    sa.Column('client_secret', sa.Text(), nullable=True),
    sa.Column('token_auth_method', sa.String(length=30), nullable=False),
    sa.Column('scopes', sa.String(length=500), nullable=False),
    sa.Column('acr_values', sa.String(length=200), nullable=True),
    sa.Column('profile', sa.String(length=10), nullable=False),
    sa.Column('display_name', sa.String(length=100), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('endpoints', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_upstream_providers')),
    sa.UniqueConstraint('name', name=op.f('uq_upstream_providers_name'))
    )
    op.create_table('upstream_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('provider', sa.String(length=40), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_used_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_upstream_links_account_id_accounts'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_upstream_links')),
    sa.UniqueConstraint('provider', 'subject', name='uq_upstream_links_provider_subject')
    )
    with op.batch_alter_table('upstream_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_upstream_links_account_id'), ['account_id'], unique=False)
    op.create_table('upstream_logins',
    sa.Column('state_digest', sa.String(length=64), nullable=False),
    sa.Column('provider', sa.String(length=40), nullable=False),
    sa.Column('nonce', sa.String(length=64), nullable=False),
    sa.Column('code_verifier', sa.Text(), nullable=False),
    sa.Column('acr_values', sa.String(length=200), nullable=True),
    sa.Column('next_url', sa.String(length=2000), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('consumed_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('state_digest', name=op.f('pk_upstream_logins'))
    )
    with op.batch_alter_table('upstream_logins', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_upstream_logins_expires_at'), ['expires_at'], unique=False)


def downgrade():
    with op.batch_alter_table('upstream_logins', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_upstream_logins_expires_at'))
    op.drop_table('upstream_logins')
    with op.batch_alter_table('upstream_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_upstream_links_account_id'))
    op.drop_table('upstream_links')
    op.drop_table('upstream_providers')
