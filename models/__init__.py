"""The platform's models (BRIEF §8): training, evaluation against the generator's oracle,
registration in MLflow and scoring back into the lake. See ``models/README.md``."""

#: command-line name → registered model name in MLflow
REGISTERED = {"credit-risk": "lcdp-credit-risk", "spending-pattern": "lcdp-spending-pattern"}
