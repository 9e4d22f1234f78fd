"""Every registered version carries a model card: rendered from plain data (``models.card``),
written by the gate as the version's description and its run's ``model_card.md``, printed by
``lcdp models card``; a card that cannot be written costs a warning, never the version."""

from __future__ import annotations

from conftest import last_json, lcdp_json
from lcdp.settings import Settings
from models import card, tracking
from models.gate import Rule
from test_models_lake import MODEL_NAME, incumbent, lake  # noqa: F401 - the trained version the last test reads

CREDIT, SPENDING = "lcdp-credit-risk", "lcdp-spending-pattern"
SECTIONS = ("# Model card: ", "## Intended use", "## Not intended for", "## Training data", "## Holdout metrics",
            "## Promotion gate", "## Known limits")


def one_line_error(proc) -> str:
    """The refusal a ``--json`` command printed: exit code 2, one line on stderr, no traceback."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:])
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr[-3000:]
    assert last_json(proc)["exit_code"] == 2
    return lines[0]


def credit_card() -> card.ModelCard:
    """A credit version's card as its run would give it: inputs, period, metrics with and
    without intervals, the intervals.json figure the run logs no plain metric for, bands, gate."""
    return card.ModelCard(
        model=CREDIT, version=3, run_id="abc123",
        inputs={"gold.merchant_month_features": 7, "silver.guarantees": 4},
        params={"trained_through": "2024-12", "holdout_months": "2024-03, 2024-04", "embargo_months": "11",
                "horizon_months": "None", "config": "{...}"},
        metrics={"holdout_auc": 0.75231, "baseline_auc": 0.72462, "baseline_auc_low": 0.70011,
                 "baseline_auc_high": 0.75013, "oracle_auc": 0.79342, "model_auc_low": 0.72012,
                 "model_auc_high": 0.78405, "model_minus_baseline_auc_low": 0.00412,
                 "model_minus_baseline_auc_high": 0.05101, "holdout_events": 389.0, "holdout_brier": 0.07603,
                 "roc_auc": 0.84061, "true_negatives": 872.0},
        intervals={"model_auc": {"value": 0.75231, "low": 0.72012, "high": 0.78405},
                   "model_minus_baseline_auc": {"value": 0.02769, "low": 0.00412, "high": 0.05101}},
        bands=[{"band": "A", "low": 0.0, "high": 0.021, "businesses": 120, "business_months": 1500, "share": 0.15,
                "events": 12, "observed": 0.032, "predicted": 0.015}],
        promoted=False, champion_version=2,
        rules=[Rule(name="not_worse_than_champion", passed=False, detail="AUC minus the champion's -0.0300 [...]"),
               Rule(name="stable_scores", passed=True, detail="PSI of scores against the champion's 0.010")])


def test_the_card_holds_every_section_with_intervals_beside_baseline_and_oracle():
    text = card.render(credit_card())
    for section in SECTIONS:
        assert section in text, section
    assert text.startswith("# Model card: lcdp-credit-risk version 3")
    assert "not for individual lending" in text.lower() and "12 months" in text
    assert "- `gold.merchant_month_features` at Delta version 7" in text
    assert "- trained through: 2024-12" in text and "- embargo (months): 11" in text and "{...}" not in text
    assert "| model_auc | 0.7523 (0.7201; 0.7841) |" in text
    assert "| baseline_auc | 0.7246 (0.7001; 0.7501) |" in text
    assert "| oracle_auc | 0.7934 |" in text and "| holdout_auc | 0.7523 |" in text
    assert "| model_minus_baseline_auc | +0.0277 (+0.0041; +0.0510) |" in text
    assert "| holdout_events | 389 |" in text and "horizon" not in text  # a parameter logged as None is left out
    assert "| roc_auc |" not in text and "(in-sample when it was trained on them" in text
    assert "roc_auc 0.8406, true_negatives 872." in text
    assert "_low |" not in text and "_high |" not in text  # the bounds are in their figure's row
    # a measure's model, baseline and oracle together; the differences after every figure
    rows = [line.split(" | ")[0].strip("| ") for line in text.splitlines() if line.startswith("| ")]
    assert rows.index("baseline_auc") < rows.index("oracle_auc") < rows.index("holdout_brier")
    assert rows.index("model_minus_baseline_auc") > rows.index("holdout_events")
    assert "## Risk bands on the holdout" in text and "| A | 0.00% | 2.10% | 120 | 1,500 | 15.00% | 12 | 3.20% |" in text
    assert "**refused** (compared with champion version 2)." in text
    assert "- not_worse_than_champion: FAILED: AUC minus the champion's" in text
    assert "- stable_scores: passed: PSI" in text
    assert "discrete-time hazard" in text and "synthetic world" in text


def test_the_card_renders_whatever_metrics_a_model_logs_and_says_what_is_missing():
    """The spending model's metric names are its own: any ``x`` with ``x_low``/``x_high`` is an
    interval; a run with nothing logged still gives every section."""
    spending = card.ModelCard(model=SPENDING, version=1, metrics={
        "holdout_score": 0.1279, "holdout_score_low": 0.11, "holdout_score_high": 0.15, "naive_score": 0.2421})
    text = card.render(spending)
    assert "| holdout_score | 0.1279 (0.1100; 0.1500) |" in text and "| naive_score | 0.2421 |" in text
    assert "single shop" in text and "1 to 3 months" in text and "## Risk bands" not in text

    empty = card.render(card.ModelCard(model="someone-elses-model", version=1))
    for section in SECTIONS:
        assert section in empty, section
    assert "the run logged no lake table" in empty and "The run logged no metric." in empty
    assert "No gate decision recorded." in empty and "Not stated for this model." in empty
    first = card.render(card.ModelCard(model=CREDIT, version=1, promoted=True, rules=[
        Rule(name="not_worse_than_baseline", passed=True, detail="first version: ...")]))
    assert "**promoted** (first version: compared with the baseline)." in first
    assert card.figure_text(card.Figure(name="x", value=None, low=0.1, high=0.2)) == "– (0.1000; 0.2000)"


def test_a_card_longer_than_mlflows_description_is_cut_at_a_section_and_points_to_the_artifact():
    text = card.render(credit_card())
    assert card.description(text, "abc123") == text
    cut = card.description(text, "abc123", limit=1200)
    assert len(cut) <= 1200 and cut.startswith("# Model card: ")
    assert cut.endswith("the whole card is the artifact model_card.md of run abc123)\n")
    assert text.startswith(cut.split("\n(cut to fit", 1)[0])


def hand_made_version(settings: Settings) -> tuple[str, int]:
    """A credit version registered by hand on a run that logged a few metrics (no training)."""
    import mlflow

    with tracking.quiet_libraries(), tracking.run(settings, "credit-risk", run_name="by hand") as active:
        mlflow.log_metrics({"holdout_auc": 0.81691, "model_auc_low": 0.79, "model_auc_high": 0.84})
        mlflow.log_dict({"model_auc": {"value": 0.81691, "low": 0.79, "high": 0.84}}, "intervals.json")
        mlflow.log_params({"trained_through": "2024-12"})
    client = tracking.client(settings)
    client.create_registered_model(CREDIT)
    version = client.create_model_version(CREDIT, source=f"runs:/{active.info.run_id}/model",
                                          run_id=active.info.run_id)
    return active.info.run_id, int(version.version)


def test_the_gate_writes_the_card_and_lcdp_models_card_prints_it(settings):
    assert lcdp_json(settings, "init").returncode == 0
    run_id, version = hand_made_version(settings)
    rule = Rule(name="not_worse_than_baseline", passed=True, detail="first version: AUC minus the baseline's 0.0300")
    tracking.apply_gate(settings, CREDIT, version, [rule], None, {"run_id": run_id})

    described = tracking.client(settings).get_model_version(CREDIT, str(version)).description
    assert "| model_auc | 0.8169 (0.7900; 0.8400) |" in described and "- trained through: 2024-12" in described
    assert "**promoted** (first version" in described and "not_worse_than_baseline: passed" in described
    assert tracking.client(settings).download_artifacts(run_id, card.ARTIFACT)  # the artifact is there
    shown = lcdp_json(settings, "models", "card", "credit-risk")
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert last_json(shown) == {"model": CREDIT, "version": version, "card": described}
    assert lcdp_json(settings, "models", "card", "lcdp-credit-risk", "--version", str(version)).returncode == 0

    unknown = lcdp_json(settings, "models", "card", "credit-risk", "--version", "9")
    assert "has no version 9 (versions: 1; see `lcdp models`)" in one_line_error(unknown)
    assert "Traceback" not in unknown.stderr
    assert "unknown model 'nope'" in one_line_error(lcdp_json(settings, "models", "card", "nope"))
    never_trained = one_line_error(lcdp_json(settings, "models", "card", "spending-pattern"))
    assert "has no registered version yet: train it first" in never_trained
    # the registry listing is still what `lcdp models` prints
    listing = last_json(lcdp_json(settings, "models"))["models"]
    assert [(row["model"], row["version"]) for row in listing] == [(CREDIT, version)]


def test_a_card_that_cannot_be_written_leaves_the_version_as_the_gate_set_it(settings, monkeypatch):
    from structlog.testing import capture_logs

    assert lcdp_json(settings, "init").returncode == 0
    run_id, version = hand_made_version(settings)

    def broken(*args, **kwargs):
        raise OSError("artifact store unreachable")

    monkeypatch.setattr(card, "write", broken)
    with capture_logs() as logs:
        decision = tracking.apply_gate(settings, CREDIT, version, [Rule(name="not_worse_than_baseline", passed=True, detail="ok")],
                                       None, {"run_id": run_id})
    assert decision.promoted and int(tracking.champion(settings, CREDIT).version) == version
    assert [entry for entry in logs if entry["event"] == "model_card.not_written"] == [
        {"event": "model_card.not_written", "log_level": "warning", "model": CREDIT, "version": version,
         "error": "OSError: artifact store unreachable"}]
    missing = lcdp_json(settings, "models", "card", "credit-risk")
    assert "has no model card: it was registered before cards were written" in one_line_error(missing)


def test_a_trained_version_s_card_holds_its_real_metrics_inputs_and_decision(spark, lake, incumbent):  # noqa: F811
    """The credit model trained on a real lake (``test_models_lake``'s first version, MLflow on
    PostgreSQL): its description and its run's model_card.md are the same card, with the run's
    own figures."""
    settings, _, _ = lake
    client = tracking.client(settings)
    described = client.get_model_version(MODEL_NAME, str(incumbent.version)).description
    artifact = client.download_artifacts(incumbent.run_id, card.ARTIFACT)
    with open(artifact, encoding="utf-8") as f:
        logged = f.read()
    assert described and described.strip() in logged  # cut only if it outgrew MLflow's 5000 characters
    metrics = client.get_run(incumbent.run_id).data.metrics
    auc = incumbent.intervals["model_auc"]
    assert f"| holdout_auc | {metrics['holdout_auc']:.4f} |" in logged
    assert f"| model_auc | {auc.value:.4f} ({auc.low:.4f}; {auc.high:.4f}) |" in logged
    assert f"| baseline_auc | {metrics['baseline_auc']:.4f} ({metrics['baseline_auc_low']:.4f}; " in logged
    assert f"| oracle_auc | {metrics['oracle_auc']:.4f} (" in logged
    for table, version in tracking.lake_inputs(settings, incumbent.run_id).items():
        assert f"- `{table}` at Delta version {version}" in logged
    assert f"- trained through: {incumbent.split.training_months[-1]}" in logged
    assert f"- holdout months: {', '.join(incumbent.split.holdout_months)}" in logged
    assert "## Risk bands on the holdout" in logged
    for band in incumbent.bands:
        assert (f"| {band.band} | {band.low:.2%} | {band.high:.2%} | {band.businesses:,} | {band.business_months:,} | "
                f"{band.share:.2%} | {band.events:,} | {band.observed:.2%} |") in logged, band
    # the run judges on its rolling-origin backtest alone: no in-sample evaluation of the
    # registered model is logged, nor shown as a holdout figure
    assert "roc_auc" not in metrics and "| roc_auc |" not in logged
    gate = "promoted" if incumbent.gate.promoted else "refused"
    assert f"**{gate}** (first version: compared with the baseline)." in logged
    assert incumbent.gate.rules[0].detail in logged
