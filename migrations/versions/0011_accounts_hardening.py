"""accounts hardening (server-side WebAuthn challenges, keyed recovery-code digests)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 09:40:00.000000

Recovery codes were stored as SHA-256(code); they are now HMAC-SHA256(K, SHA-256(code)) with K
derived from the master key (idp/accounts/totp.py). Stored digests are keyed in place, so codes
already handed out keep working and no unkeyed digest is left behind. The downgrade cannot undo
that (HMAC does not reverse): after it, the keyed codes no longer match and people regenerate them.
"""
import hashlib
import hmac

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

RECOVERY_KEY_PURPOSE = "recovery-codes"  # as idp.accounts.totp.RECOVERY_KEY_PURPOSE


def upgrade():
    op.create_table('webauthn_challenges',
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('purpose', sa.String(length=20), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('used_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_webauthn_challenges_account_id_accounts'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('digest', name=op.f('pk_webauthn_challenges'))
    )
    with op.batch_alter_table('webauthn_challenges', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webauthn_challenges_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_webauthn_challenges_expires_at'), ['expires_at'], unique=False)
    _key_recovery_codes()


def _key_recovery_codes():
    conn = op.get_bind()
    stored = conn.execute(sa.text("SELECT digest FROM recovery_codes")).scalars().all()
    if not stored:
        return  # a new database needs no master key here
    from flask import current_app
    key = current_app.extensions["idp.master_key"].derive(RECOVERY_KEY_PURPOSE)
    for old in stored:
        conn.execute(sa.text("UPDATE recovery_codes SET digest = :new WHERE digest = :old"),
                     {"new": hmac.new(key, old.encode(), hashlib.sha256).hexdigest(), "old": old})


def downgrade():
    with op.batch_alter_table('webauthn_challenges', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webauthn_challenges_expires_at'))
        batch_op.drop_index(batch_op.f('ix_webauthn_challenges_account_id'))
    op.drop_table('webauthn_challenges')
