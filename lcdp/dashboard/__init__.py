"""The policy dashboard: server-rendered pages of the FastAPI service for provincial and city
staff, built only on the disclosure-controlled export products (``gold.export_*``), with
Vega-Lite charts whose JavaScript, map and styles the service itself serves.

- ``text``: the pages' words in Korean and English, and numbers in 원/만원/억원.
- ``data``: the views' figures, read from the products at their latest version.
- ``charts``: the Vega-Lite specs.
- ``health``: the admin's data-health view (feeds, tables, DAG runs, models).
- ``session``: sign-in with an API key, then a signed session cookie.
- ``routes``: the pages.
"""
