"""Onboarding checklists of new projects."""
