"""covering indexes for the public pages' escalation reads

Revision ID: 0410_escalation
Revises: 0400_escalation
Create Date: 2026-12-02 14:57:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0410_escalation'
down_revision: str | Sequence[str] | None = '0400_escalation'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_escalation_active_clock', 'escalation',
                    ['state', 'project', 'assignee', 'ack_due_at', 'resolve_due_at', 'severity',
                     'kind', 'opened_at', 'number'], unique=False)
    op.create_index('ix_escalation_monthly', 'escalation',
                    ['opened_at', 'state', 'project', 'acknowledged_at', 'closed_at',
                     'ack_breached', 'resolve_breached', 'ack_due_at', 'resolve_due_at'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_escalation_monthly', table_name='escalation')
    op.drop_index('ix_escalation_active_clock', table_name='escalation')
