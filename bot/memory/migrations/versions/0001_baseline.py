"""Baseline: the schema of the last release (0.1.0, commit 91d8735), as create_all made it.

Customers, conversations, messages, drafts and unanswered questions. Types are written out
(String, DateTime(timezone=True)) rather than imported from bot.memory.models, so this file
keeps describing that release however the models change.
"""

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('customer',
    sa.Column('display_name', sa.String(), nullable=False),
    sa.Column('wechat_id', sa.String(), nullable=True),
    sa.Column('weibo_id', sa.String(), nullable=True),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('opted_out_wechat', sa.Boolean(), nullable=False),
    sa.Column('opted_out_weibo', sa.Boolean(), nullable=False),
    sa.Column('notes', sa.String(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_customer_display_name'), 'customer', ['display_name'], unique=False)
    op.create_index(op.f('ix_customer_wechat_id'), 'customer', ['wechat_id'], unique=False)
    op.create_index(op.f('ix_customer_weibo_id'), 'customer', ['weibo_id'], unique=False)
    op.create_table('conversation',
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('channel', sa.String(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_message_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_conversation_customer_id'), 'conversation', ['customer_id'], unique=False)
    op.create_table('draft',
    sa.Column('kind', sa.String(), nullable=False),
    sa.Column('channel', sa.String(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('conversation_id', sa.Integer(), nullable=True),
    sa.Column('text', sa.String(), nullable=False),
    sa.Column('cited_entry_ids', sa.JSON(), nullable=False),
    sa.Column('confidence', sa.Float(), nullable=True),
    sa.Column('needs_human', sa.Boolean(), nullable=False),
    sa.Column('note', sa.String(), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(), nullable=False),
    sa.Column('decided_by', sa.String(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('edited_text', sa.String(), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversation.id'], ),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_draft_customer_id'), 'draft', ['customer_id'], unique=False)
    op.create_index(op.f('ix_draft_status'), 'draft', ['status'], unique=False)
    op.create_table('message',
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(), nullable=False),
    sa.Column('text', sa.String(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversation.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_message_conversation_id'), 'message', ['conversation_id'], unique=False)
    op.create_table('unansweredquestion',
    sa.Column('text', sa.String(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('draft_id', sa.Integer(), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('resolved', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], ),
    sa.ForeignKeyConstraint(['draft_id'], ['draft.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_unansweredquestion_resolved'), 'unansweredquestion', ['resolved'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_unansweredquestion_resolved'), table_name='unansweredquestion')
    op.drop_table('unansweredquestion')
    op.drop_index(op.f('ix_message_conversation_id'), table_name='message')
    op.drop_table('message')
    op.drop_index(op.f('ix_draft_status'), table_name='draft')
    op.drop_index(op.f('ix_draft_customer_id'), table_name='draft')
    op.drop_table('draft')
    op.drop_index(op.f('ix_conversation_customer_id'), table_name='conversation')
    op.drop_table('conversation')
    op.drop_index(op.f('ix_customer_weibo_id'), table_name='customer')
    op.drop_index(op.f('ix_customer_wechat_id'), table_name='customer')
    op.drop_index(op.f('ix_customer_display_name'), table_name='customer')
    op.drop_table('customer')

