"""cache_versions (caches every node drops within a second); access tokens no longer stored one by one

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 13:30:00.000000

Access tokens stay self-contained JWTs; what was one ``oidc_access_tokens`` row per token becomes:
a random ``handle`` per grant (the token's ``gid`` claim: the grant's liveness is checked through it)
and ``oidc_revoked_access_tokens``, written only when one token is revoked on its own (RFC 7009).
Access tokens issued before this revision carry no ``gid`` and stop being accepted; their refresh
tokens still work.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    versions = op.create_table('cache_versions',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_cache_versions'))
    )
    op.bulk_insert(versions, [{'name': 'clients', 'version': 0}, {'name': 'keys', 'version': 0}])

    op.create_table('oidc_revoked_access_tokens',
    sa.Column('jti', sa.String(length=64), nullable=False),
    sa.Column('revoked_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('jti', name=op.f('pk_oidc_revoked_access_tokens'))
    )
    with op.batch_alter_table('oidc_revoked_access_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_oidc_revoked_access_tokens_expires_at'), ['expires_at'], unique=False)

    with op.batch_alter_table('oidc_grants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('handle', sa.String(length=32), nullable=True))
    # A reference, not a secret (tokens are signed): unique, and not the row number a client could count with.
    conn = op.get_bind()
    random_hex = ("md5(random()::text || id::text)" if conn.dialect.name == 'postgresql'
                  else "lower(hex(randomblob(16)))")
    conn.execute(sa.text(f"UPDATE oidc_grants SET handle = {random_hex}"))
    with op.batch_alter_table('oidc_grants', schema=None) as batch_op:
        batch_op.alter_column('handle', existing_type=sa.String(length=32), nullable=False)
        batch_op.create_index(batch_op.f('ix_oidc_grants_handle'), ['handle'], unique=True)

    with op.batch_alter_table('oidc_access_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_oidc_access_tokens_expires_at'))
        batch_op.drop_index(batch_op.f('ix_oidc_access_tokens_grant_id'))
    op.drop_table('oidc_access_tokens')


def downgrade():
    op.create_table('oidc_access_tokens',
    sa.Column('jti', sa.String(length=64), nullable=False),
    sa.Column('grant_id', sa.Integer(), nullable=False),
    sa.Column('scope', sa.Text(), nullable=True),
    sa.Column('issued_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['grant_id'], ['oidc_grants.id'], name=op.f('fk_oidc_access_tokens_grant_id_oidc_grants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('jti', name=op.f('pk_oidc_access_tokens'))
    )
    with op.batch_alter_table('oidc_access_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_oidc_access_tokens_grant_id'), ['grant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_oidc_access_tokens_expires_at'), ['expires_at'], unique=False)
    with op.batch_alter_table('oidc_grants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_oidc_grants_handle'))
        batch_op.drop_column('handle')
    with op.batch_alter_table('oidc_revoked_access_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_oidc_revoked_access_tokens_expires_at'))
    op.drop_table('oidc_revoked_access_tokens')
    op.drop_table('cache_versions')
