"""Escalations: blockers only an admin can clear, with an owner, deadlines and reminders."""
