"""an index for the public pages' newest published cases

Revision ID: 0640_moderation
Revises: 0630_moderation
Create Date: 2026-12-03 10:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0640_moderation'
down_revision: str | Sequence[str] | None = '0630_moderation'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_moderation_case_public_id', 'moderation_case', ['public', 'id'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_moderation_case_public_id', table_name='moderation_case')
