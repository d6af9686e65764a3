"""trusted CAs and CRLs in the database (every node the same), instead of keys/trust/ on one node

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 20:20:00.000000

Issue 16: the console uploaded to one node's folder. Files already in keys/trust/ are imported by the
first process that reads the store (idp.accounts.certificates.trust_store), not by this migration: the
folder is a setting of the running configuration.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('trusted_certificates',
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('der', sa.LargeBinary(), nullable=False),
    sa.Column('anchor', sa.Boolean(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('added_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('fingerprint', name=op.f('pk_trusted_certificates'))
    )
    op.create_table('trusted_crls',
    sa.Column('issuer_key', sa.String(length=64), nullable=False),
    sa.Column('der', sa.LargeBinary(), nullable=False),
    sa.Column('added_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('issuer_key', name=op.f('pk_trusted_crls'))
    )


def downgrade():
    op.drop_table('trusted_crls')
    op.drop_table('trusted_certificates')
