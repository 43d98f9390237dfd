"""The service desk: tickets, priority, SLA, assignment, escalation, knowledge base."""
