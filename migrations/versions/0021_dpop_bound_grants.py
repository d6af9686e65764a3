"""DPoP-bound grants: the key thumbprint a grant's access tokens are bound to

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03 19:40:00.000000

Issue 15, DPoP (RFC 9449): ``oidc_grants.cnf_jkt`` holds the RFC 7638 thumbprint of the DPoP key a
grant's access tokens are bound to (``cnf.jkt``), beside ``cnf_x5t`` for a certificate binding, so that
refreshed access tokens keep the binding and a public client's refresh token is usable only with a
proof by that key.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('oidc_grants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cnf_jkt', sa.String(length=43), nullable=True))


def downgrade():
    with op.batch_alter_table('oidc_grants', schema=None) as batch_op:
        batch_op.drop_column('cnf_jkt')
