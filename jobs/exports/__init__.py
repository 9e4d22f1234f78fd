"""The data products (``gold.export_<name>``), one module each: a ``PRODUCT`` declaration, a
``cells`` function from the lake tables it reads to cells with their contributors, and, when
a measure is derived from published cells only, a ``finish`` function. Each module has its
entry in ``lcdp.declarations.PRODUCTS`` (its name, module and sources)."""
