"""Replicas: the content generation each shared Chroma collection was last synced to."""

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('knowledgestamp',
    sa.Column('collection', sa.String(), nullable=False),
    sa.Column('generation', sa.String(), nullable=False),
    sa.Column('entries', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('collection')
    )


def downgrade() -> None:
    op.drop_table('knowledgestamp')
