"""Orchestration: the steps that turn lake tables into lake tables, each run the same way
whether the command line, a DAG or the bench calls it.

- ``fusion``: bronze → silver → gold, one step per fused table (``silver`` and ``gold`` hold
  the incremental refreshes);
- ``models``: training and scoring the declared models;
- ``products``: building the data products with their disclosure control;
- ``airflow``: how an Airflow task reports the platform's errors;
- ``dictionary``: every declared table's documentation.

This layer sits above ``jobs/`` and ``models/`` (the transformations and estimators it runs)
and below the edges (the CLI, the service, the DAG files). It reads what to run from
``lcdp.declarations``.
"""
