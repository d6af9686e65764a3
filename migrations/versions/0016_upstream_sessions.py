"""upstream sessions behind SSO sessions (logout to and from the upstream), used back-channel logout tokens

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 09:00:00.000000

Issue 14, logout: ``upstream_sessions`` remembers, for an SSO session that came from an upstream login,
the provider, the upstream's ``sid`` and ``sub`` and its ID token (encrypted under the master key, for
``id_token_hint``); a table of its own rather than columns on ``sso_sessions``, which is read on every
request and mostly holds sessions that never saw an upstream. ``upstream_logout_tokens`` keeps the ``jti``
of every back-channel logout token accepted, so that a replay fails on the primary key.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('upstream_sessions',
    sa.Column('sso_session_id', sa.String(length=64), nullable=False),
    sa.Column('provider', sa.String(length=40), nullable=False),
    sa.Column('upstream_sid', sa.String(length=255), nullable=True),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('id_token', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['sso_session_id'], ['sso_sessions.id'],
                            name=op.f('fk_upstream_sessions_sso_session_id_sso_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('sso_session_id', name=op.f('pk_upstream_sessions'))
    )
    with op.batch_alter_table('upstream_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_upstream_sessions_provider_sid', ['provider', 'upstream_sid'], unique=False)
        batch_op.create_index('ix_upstream_sessions_provider_subject', ['provider', 'subject'], unique=False)
    op.create_table('upstream_logout_tokens',
    sa.Column('provider', sa.String(length=40), nullable=False),
    sa.Column('jti', sa.String(length=255), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('provider', 'jti', name=op.f('pk_upstream_logout_tokens'))
    )
    with op.batch_alter_table('upstream_logout_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_upstream_logout_tokens_expires_at'), ['expires_at'], unique=False)


def downgrade():
    with op.batch_alter_table('upstream_logout_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_upstream_logout_tokens_expires_at'))
    op.drop_table('upstream_logout_tokens')
    with op.batch_alter_table('upstream_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_upstream_sessions_provider_subject')
        batch_op.drop_index('ix_upstream_sessions_provider_sid')
    op.drop_table('upstream_sessions')
