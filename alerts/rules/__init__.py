"""Rules: pydantic documents (``models``), pure evaluation functions (one module per kind), the ``alert_rules``
table (``store``). Imports nothing above it in ``alerts`` but the leaf modules ``errors`` and ``durations``."""
