"""Staff and learning: customers' own id (ref) and tier, Telegram staff state and draft cards,
FAQ candidates, learned phrasings."""

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('faqcandidate',
    sa.Column('draft_id', sa.Integer(), nullable=True),
    sa.Column('question', sa.String(), nullable=False),
    sa.Column('answer', sa.String(), nullable=False),
    sa.Column('proposed_by', sa.String(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(), nullable=False),
    sa.Column('decided_by', sa.String(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['draft_id'], ['draft.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('faqcandidate', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_faqcandidate_draft_id'), ['draft_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_faqcandidate_status'), ['status'], unique=False)

    op.create_table('learnedphrasing',
    sa.Column('text', sa.String(), nullable=False),
    sa.Column('entry_id', sa.String(), nullable=True),
    sa.Column('decision', sa.String(), nullable=False),
    sa.Column('draft_id', sa.Integer(), nullable=True),
    sa.Column('decided_by', sa.String(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['draft_id'], ['draft.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('learnedphrasing', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_learnedphrasing_draft_id'), ['draft_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_learnedphrasing_entry_id'), ['entry_id'], unique=False)

    op.create_table('staffcard',
    sa.Column('draft_id', sa.Integer(), nullable=False),
    sa.Column('chat_id', sa.BigInteger(), nullable=False),
    sa.Column('message_id', sa.BigInteger(), nullable=False),
    sa.Column('question', sa.String(), nullable=False),
    sa.Column('customer_ref', sa.String(), nullable=True),
    sa.Column('nearest_entry_ids', sa.JSON(), nullable=False),
    sa.Column('reason', sa.String(), nullable=False),
    sa.Column('escalated', sa.Boolean(), nullable=False),
    sa.Column('chosen_entry_id', sa.String(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['draft_id'], ['draft.id'], ),
    sa.PrimaryKeyConstraint('draft_id')
    )
    op.create_table('staffstate',
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('customer_ref', sa.String(), nullable=True),
    sa.Column('channel', sa.String(), nullable=False),
    sa.Column('editing_draft_id', sa.Integer(), nullable=True),
    sa.Column('editing_chat_id', sa.BigInteger(), nullable=True),
    sa.Column('editing_message_id', sa.BigInteger(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['editing_draft_id'], ['draft.id'], ),
    sa.PrimaryKeyConstraint('user_id')
    )
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ref', sa.String(), nullable=True))
        batch_op.add_column(sa.Column('tier', sa.String(), nullable=True))
        batch_op.create_index(batch_op.f('ix_customer_ref'), ['ref'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customer_ref'))
        batch_op.drop_column('tier')
        batch_op.drop_column('ref')

    op.drop_table('staffstate')
    op.drop_table('staffcard')
    with op.batch_alter_table('learnedphrasing', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_learnedphrasing_entry_id'))
        batch_op.drop_index(batch_op.f('ix_learnedphrasing_draft_id'))

    op.drop_table('learnedphrasing')
    with op.batch_alter_table('faqcandidate', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_faqcandidate_status'))
        batch_op.drop_index(batch_op.f('ix_faqcandidate_draft_id'))

    op.drop_table('faqcandidate')

