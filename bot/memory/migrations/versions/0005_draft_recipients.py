"""Push recipients: the members of a segment a one-text push (article, moments, Weibo post) goes
to, so the per-follower caps count it for each of them once it is sent."""

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('draftrecipient',
    sa.Column('draft_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], ),
    sa.ForeignKeyConstraint(['draft_id'], ['draft.id'], ),
    sa.PrimaryKeyConstraint('draft_id', 'customer_id')
    )
    with op.batch_alter_table('draftrecipient', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_draftrecipient_customer_id'), ['customer_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('draftrecipient', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_draftrecipient_customer_id'))

    op.drop_table('draftrecipient')
