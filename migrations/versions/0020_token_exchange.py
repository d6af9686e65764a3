"""token exchange (RFC 8693) policy and resource indicators (RFC 8707)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03 20:00:00.000000

Issue 15: ``oidc_exchange_policies`` is the administrator's table of which application may obtain
tokens for which downstream service (audience or resource URI), with which scopes at most; a row goes
with its application. ``resources`` on codes and grants keeps the RFC 8707 resource indicators of the
authorization request, so that the token and refresh requests can only narrow them.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('oidc_exchange_policies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('audience', sa.String(length=2000), nullable=False),
    sa.Column('scope', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['oidc_clients.client_id'],
                            name=op.f('fk_oidc_exchange_policies_client_id_oidc_clients'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_oidc_exchange_policies')),
    sa.UniqueConstraint('client_id', 'audience', name='uq_oidc_exchange_policies_client_audience')
    )
    with op.batch_alter_table('oidc_codes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('resources', sa.JSON(), nullable=True))
    with op.batch_alter_table('oidc_grants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('resources', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('oidc_grants', schema=None) as batch_op:
        batch_op.drop_column('resources')
    with op.batch_alter_table('oidc_codes', schema=None) as batch_op:
        batch_op.drop_column('resources')
    op.drop_table('oidc_exchange_policies')
