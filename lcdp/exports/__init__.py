"""Data products for businesses and policy teams: what a product declares (``product``),
disclosure control and its audit (``disclosure``), the rows a product publishes from protected
cells (``publish``), its data dictionary in Korean and English for files, the catalog and Delta
Sharing (``dictionary``), files (``files``), which key may read which product (``grants``) and
a version's rows read once (``rows``). Builds run in ``lcdp.pipeline.products``."""
