"""published cases: what moderators choose to show of a case on the public pages

Revision ID: 0630_moderation
Revises: 0620_moderation
Create Date: 2026-12-02 17:10:02.230639
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0630_moderation'
down_revision: str | Sequence[str] | None = '0620_moderation'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('moderation_case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('public', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column('public_summary',
                                      sqlmodel.sql.sqltypes.AutoString(length=500),
                                      nullable=False, server_default=''))
        batch_op.add_column(sa.Column('public_name', sqlmodel.sql.sqltypes.AutoString(length=39),
                                      nullable=False, server_default=''))
        batch_op.add_column(sa.Column('published_by',
                                      sqlmodel.sql.sqltypes.AutoString(length=200),
                                      nullable=False, server_default=''))
        batch_op.add_column(sa.Column('published_at', sqlmodel.sql.sqltypes.UTCDateTime(),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('moderation_case', schema=None) as batch_op:
        batch_op.drop_column('published_at')
        batch_op.drop_column('published_by')
        batch_op.drop_column('public_name')
        batch_op.drop_column('public_summary')
        batch_op.drop_column('public')
