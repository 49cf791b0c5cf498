"""Learned phrasings count their relabellings, so other processes notice a message moved to
another entry (the labels' stamp read before every reply)."""

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('learnedphrasing', schema=None) as batch_op:
        batch_op.add_column(sa.Column('revision', sa.Integer(), nullable=False, server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('learnedphrasing', schema=None) as batch_op:
        batch_op.drop_column('revision')
