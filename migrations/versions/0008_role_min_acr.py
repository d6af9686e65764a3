"""roles: min_acr, the assurance level an authentication needs for a role to reach an application

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 23:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('roles', schema=None) as batch_op:
        batch_op.add_column(sa.Column('min_acr', sa.String(length=40), nullable=True))


def downgrade():
    with op.batch_alter_table('roles', schema=None) as batch_op:
        batch_op.drop_column('min_acr')
