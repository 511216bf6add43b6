"""Versioned SQL migrations, applied by ``ops-center migrate`` (see ``ops_center.migrate``)."""
