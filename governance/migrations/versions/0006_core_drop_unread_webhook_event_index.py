"""drop the index of webhook deliveries by event

Revision ID: 0006_core
Revises: 0005_core
Create Date: 2026-12-04 14:00:00.000000

No query reads deliveries by event, and every delivery paid for the index at least twice:
when stored, and when settled (settling changes the status, an indexed column, so the row's
new version gets an entry in every index of the table).
"""

from collections.abc import Sequence

from alembic import op


revision: str = '0006_core'
down_revision: str | Sequence[str] | None = '0005_core'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('webhook_delivery', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_delivery_event')


def downgrade() -> None:
    with op.batch_alter_table('webhook_delivery', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_delivery_event', ['event'], unique=False)
