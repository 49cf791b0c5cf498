"""Telegram cards know the staff message they answer (its edits re-draft the card) and the one
holding a draft's new text (its edits correct that text), when the customer really asked (a
forward's original time) and the forward's sender name; strangers refused once are remembered
across restarts."""

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('staffcard', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source_message_id', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('asked_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('origin_name', sa.String(), nullable=True))
        batch_op.add_column(sa.Column('edit_message_id', sa.BigInteger(), nullable=True))
        batch_op.create_index(batch_op.f('ix_staffcard_source_message_id'), ['source_message_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_staffcard_edit_message_id'), ['edit_message_id'], unique=False)
    op.create_table('refuseduser',
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('refused_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('user_id')
    )


def downgrade() -> None:
    op.drop_table('refuseduser')
    with op.batch_alter_table('staffcard', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staffcard_edit_message_id'))
        batch_op.drop_index(batch_op.f('ix_staffcard_source_message_id'))
        batch_op.drop_column('edit_message_id')
        batch_op.drop_column('origin_name')
        batch_op.drop_column('asked_at')
        batch_op.drop_column('source_message_id')
