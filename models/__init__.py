"""The platform's models: the small-business credit-risk classifier and the spending-pattern
forecaster, each trained on the lake, judged against its baselines and the generator's oracle,
registered in MLflow and scored back into the lake (``docs/models.md``).

Their names, inputs and output tables are declared in ``lcdp.declarations.MODELS``; the
pipeline (``lcdp.pipeline.models``) trains and scores them the same way for every caller."""
