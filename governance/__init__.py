"""The rules and the records: tables, services, policies and the clock.

Nothing here knows of chat platforms, HTTP or GitHub libraries; every state change
happens in one transaction with an audit entry.
"""
