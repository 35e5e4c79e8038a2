"""sealed secret ballots

Revision ID: 0510_voting
Revises: 0500_voting
Create Date: 2026-12-02 13:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0510_voting'
down_revision: str | Sequence[str] | None = '0500_voting'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('vote_ballot', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sealed', sa.Text(), nullable=False, server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('vote_ballot', schema=None) as batch_op:
        batch_op.drop_column('sealed')
