"""Data products for businesses and policy teams: declarations, disclosure control, builds and
delivery (files, the export API, Delta Sharing)."""
