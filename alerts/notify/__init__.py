"""Notifications: channels (webhook, e-mail), the outbox written with each transition, payload formats, delivery
with retries and idempotency keys, and the delivery log."""
