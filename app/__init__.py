"""The composition root: the one package that may import all five (``api``, ``ingest``, ``alerts``, ``geo``,
``ops_center``) and wires them into the programs we run — the ``ops-center`` command (``app/cli.py``) and the Celery
worker and beat (``app/celery.py``). Nothing imports it."""
