"""Public warnings in the Common Alerting Protocol (CAP 1.2).

An operator drafts a warning from alerts, incidents or from scratch; a second person with the right to publish
approves it; it is published as a signed CAP document (XML Signature), listed in a public Atom feed and pushed to
webhook subscribers through the notification outbox. Updates and cancellations are further messages of the same
warning that reference the earlier ones. This package owns the ``warning*`` tables (migration 0080)."""
