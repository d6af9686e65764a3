"""audit chain keyed: audit_keys (a random key encrypted under the master key), audit_events.key_id

Events written before this revision keep their SHA-256 hashes and no key_id; the first event written
after it is keyed (HMAC-SHA256) and seals them. Nothing here needs the master key: the application
creates the key with the first event that finds none (idp/events.py).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 09:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('audit_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('wrapped', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_keys'))
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('key_id', sa.Integer(), nullable=True))


def downgrade():
    # Keyed events cannot be verified once their key is gone: a downgrade ends the chain's protection.
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_column('key_id')
    op.drop_table('audit_keys')
