"""Who pressed 转人工 on a Telegram card, and when (a bare flag recorded neither)."""

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('staffcard', schema=None) as batch_op:
        batch_op.add_column(sa.Column('escalated_by', sa.String(), nullable=True))
        batch_op.add_column(sa.Column('escalated_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('staffcard', schema=None) as batch_op:
        batch_op.drop_column('escalated_at')
        batch_op.drop_column('escalated_by')
