"""Local Currency Data Platform.

The package is layered, and imports point down, never up, not even inside a function:

- edges: ``cli``, ``bench``, ``demo``, ``ops``, ``service``, ``dashboard``, ``pull`` (and the
  DAG files in ``dags/``): how people and systems reach the platform;
- orchestration: ``pipeline``: the steps (fusion, training and scoring, product builds), run
  the same way by every edge;
- the ``jobs`` and ``models`` packages: transformations and estimators;
- the core: ``lake``, ``ingest``, ``exports``, ``generator``, and the modules at this level
  (settings, errors, contracts, declarations, metadata, keys, logs);
- the ``schemas`` package: data only.

``pyproject.toml`` states the layers as import-linter contracts and ``tests/test_layers.py``
checks them; ``docs/architecture.md`` says why.
"""

__version__ = "0.1.0"
