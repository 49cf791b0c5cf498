"""Telegram push cards: where each push draft's card is and what it was drafted from, so the
card's regenerate and soften buttons work after a restart."""

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('staffpushcard',
    sa.Column('draft_id', sa.Integer(), nullable=False),
    sa.Column('chat_id', sa.BigInteger(), nullable=False),
    sa.Column('message_id', sa.BigInteger(), nullable=False),
    sa.Column('channel', sa.String(), nullable=False),
    sa.Column('fmt', sa.String(), nullable=False),
    sa.Column('brief', sa.String(), nullable=False),
    sa.Column('customer_ref', sa.String(), nullable=True),
    sa.Column('segment', sa.String(), nullable=True),
    sa.Column('seed', sa.Integer(), nullable=False),
    sa.Column('soften', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['draft_id'], ['draft.id'], ),
    sa.PrimaryKeyConstraint('draft_id')
    )


def downgrade() -> None:
    op.drop_table('staffpushcard')
