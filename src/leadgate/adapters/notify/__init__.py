"""Outbound notification channels: Slack, Microsoft Teams, signed webhooks and SMTP email.

Each channel turns a ``leadgate.domain.notifications.Notification`` into its receiver's
format and makes one delivery attempt (``channel.Channel``); the outbox worker retries.
"""
