"""Users, roles, passwords, tokens, API keys and the audit log."""
