"""Triage on ticket creation: type, urgency, impact, priority, SLA deadlines, queue."""
