"""Alerts: rules, delivery channels, the outbox and the support queue. Reads and writes via listener.store."""
