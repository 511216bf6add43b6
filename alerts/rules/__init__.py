"""Rules: pydantic documents (``models``), pure evaluation functions (one module per kind), YAML loading and the
database store."""
