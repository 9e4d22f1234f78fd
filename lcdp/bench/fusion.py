"""``lcdp bench fusion``: the whole fusion (bronze → silver → gold, from scratch) on a large
generated lake, next to the same gold computation written directly in DuckDB over the same
bronze tables, in the same run.

The bronze lake is built once per (merchants, months, seed) and kept in the bench folder:
the registry, bureau, guarantee and employment files go through the real ingest; the payments
(tens of millions at 20,000 merchants × 24 months) are written to bronze straight from the
generator in the bronze schema, because parsing them from CSV is ingest's benchmark, not
fusion's, and would cost minutes and gigabytes of Python strings first.

The peer computes the two gold tables only, with the same rules; both sides' results are
compared (row counts, spending per region and month), so the ratio compares equal work.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import platform
import shutil
import tempfile
import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa

from lcdp.bench.stages import measure
from lcdp.settings import Settings

BENCH_KEY = "bench-pseudonym-key-0123456789"


def _kona_bronze(world, settings: Settings) -> int:
    """Write the world's payments to bronze.kona_transactions, one commit per month."""
    from deltalake import write_deltalake

    from lcdp.contracts import get_contract
    from lcdp.ingest.pseudonym import Pseudonymizer
    from lcdp.lake import catalog

    contract = get_contract("kona", "transactions")
    schema = contract.bronze_schema()
    name = catalog.bronze(contract).qualified
    pseudo = Pseudonymizer(settings.hmac_key)
    tx, biz, cards = world.transactions, world.businesses, world.cardholders
    merchant_keys = pseudo.column("merchant", pa.array(biz["frcs_no"].to_numpy(), pa.string()))
    card_keys = pseudo.column("card", pa.array(cards["card_token"].to_numpy(), pa.string()))
    first_day = np.datetime64(world.months[0], "D")
    # Korean local time of day → UTC (Korea keeps no daylight saving time)
    local = first_day + tx["day_idx"].to_numpy().astype("timedelta64[D]") + tx["seconds"].to_numpy().astype("timedelta64[s]")
    utc = (local - np.timedelta64(9, "h")).astype("datetime64[us]")
    month_of = (local.astype("datetime64[M]") - first_day.astype("datetime64[M]")).astype(int)
    ingested = dt.datetime.now(dt.timezone.utc)
    catalog.table(name).path(settings).parent.mkdir(parents=True, exist_ok=True)
    written = 0
    for m in range(len(world.months)):
        rows = np.flatnonzero(month_of == m)
        if not len(rows):
            continue
        part = tx.iloc[rows]
        card_idx, biz_idx = part["card_idx"].to_numpy(), part["business_idx"].to_numpy()
        empty_to_null = lambda values: pa.array([v or None for v in values], pa.string())  # noqa: E731
        upload = f"bench-{world.months[m]:%Y%m}"
        columns = {
            "tx_id": pa.array(part["tx_id"].to_numpy(), pa.string()),
            "card_key": card_keys.take(pa.array(card_idx)),
            "merchant_key": merchant_keys.take(pa.array(biz_idx)),
            "tx_ts": pa.array(utc[rows], pa.timestamp("us")).cast(pa.timestamp("us", tz="UTC")),
            "amount": pa.array(part["amount"].to_numpy(), pa.int64()),
            "channel": pa.array(part["channel"].to_numpy(), pa.string()),
            "age_band": pa.array(cards["age_band"].to_numpy()[card_idx], pa.string()),
            "gender": pa.array(cards["gender"].to_numpy()[card_idx], pa.string()),
            "policy_fund": empty_to_null(part["policy_fund"].to_numpy()),
            "orig_tx_id": empty_to_null(part["orig_tx_id"].to_numpy()),
            "_upload_id": pa.array([upload] * len(rows), pa.string()),
            "_source_file": pa.array([f"kona/transactions/{upload}/kona_tx_{world.months[m]:%Y%m}.csv"] * len(rows)),
            "_row_number": pa.array(np.arange(1, len(rows) + 1), pa.int64()),
            "_ingested_at": pa.array([ingested] * len(rows), pa.timestamp("us", tz="UTC")),
            "_warnings": pa.nulls(len(rows), pa.list_(pa.string())),
        }
        write_deltalake(catalog.table(name).uri(settings), pa.table(columns, schema=schema), mode="append")
        written += len(rows)
    return written


def _write_day_file(world, folder: Path) -> Path:
    """The world's last day of card payments as the operator's daily CP949 file."""
    from lcdp.generator.writers import KONA_COLUMNS, kona_frame

    frame = kona_frame(world)
    day = frame["_date"].iloc[0]
    path = folder / f"kona_tx_{day:%Y%m%d}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="cp949", newline="") as fh:
        frame[KONA_COLUMNS].to_csv(fh, index=False, lineterminator="\r\n")
    return path


def build_bronze(home: Path, merchants: int, months: int, seed: int) -> dict:
    """The bench lake's bronze tables (kept between runs with the same parameters), all but
    the last day of card payments, which waits beside them as a daily kona file
    (``day_file``) for the incremental run."""
    from lcdp.calendar import default_start
    from lcdp.generator.world import WorldParams, build_world
    from lcdp.generator.writers import _Writer, write_gcgf, write_ggdata, write_gjf, write_ked
    from lcdp.ingest import ingest_files
    from lcdp.lake import catalog, engine

    was_running = engine.running()
    marker = home / "bench-bronze.json"
    params = {"merchants": merchants, "months": months, "seed": seed, "layout": "last-day-held-out"}
    if marker.exists() and json.loads(marker.read_text()).get("params") == params:
        return json.loads(marker.read_text())
    shutil.rmtree(home, ignore_errors=True)
    settings = Settings(home=home, pseudonym_key=BENCH_KEY)
    settings.ensure_dirs()
    world = build_world(WorldParams(merchants=merchants, months=months, seed=seed, start=default_start(months)))
    files = home / "partner-files"
    writer = _Writer(files, world, dirty=0.0, seed=seed)
    for write in (write_ggdata, write_ked, write_gcgf, write_gjf):
        write(writer)
    for feed in sorted({(f.partner, f.dataset) for f in writer.files}):
        ingest_files(settings, *feed, [files / f.path for f in writer.files if (f.partner, f.dataset) == feed])
    last_day = world.transactions["day_idx"].to_numpy() == world.transactions["day_idx"].max()
    day_file = _write_day_file(dataclasses.replace(world, transactions=world.transactions[last_day]),
                               files / "kona" / "transactions")
    payments = _kona_bronze(dataclasses.replace(world, transactions=world.transactions[~last_day]), settings)
    if not was_running:  # the measured runs are processes of their own: free this engine's memory
        engine.stop()
    info = {"params": params, "bronze_rows": {n: catalog.row_count(n, settings) for n in catalog.tables()
                                               if n.startswith("bronze.")}, "payments_written": payments,
            "day_file": str(day_file), "day_rows": int(last_day.sum())}
    marker.write_text(json.dumps(info))
    return info


DUCKDB_GOLD = """
CREATE TEMP TABLE obs AS
SELECT merchant_key, business_key, SIGUN_CD AS sigun_cd, LEAD_TAX_MAN_STATE_CD AS status_code, CLSBIZ_DAY,
       _ingested_at, _upload_id, _row_number,
       coalesce(nullif(trim(INDUTYPE_CD), ''), nullif(regexp_extract(trim(INDUTYPE_NM), '^([0-9]{3,6})', 1), '')) AS code,
       nullif(CASE WHEN len(string_split(c, '/')) = 2 AND string_split(c, '/')[1] = string_split(c, '/')[2]
                   THEN string_split(c, '/')[1]
                   WHEN length(c) > 0 AND length(c) % 2 = 0 AND left(c, length(c) // 2) = right(c, length(c) // 2)
                   THEN left(c, length(c) // 2) ELSE c END, '') AS industry_name
FROM (SELECT *, trim(regexp_replace(regexp_replace(trim(INDUTYPE_NM), '^[0-9]+', ''), '[()]', '', 'g')) AS c
      FROM bronze_merchants);
CREATE TEMP TABLE registry AS
WITH codes AS (SELECT industry_name, min(code) AS name_code FROM obs
               WHERE code IS NOT NULL AND industry_name IS NOT NULL GROUP BY ALL),
latest AS (SELECT * FROM obs QUALIFY row_number() OVER (PARTITION BY merchant_key
           ORDER BY _ingested_at DESC, _upload_id DESC, _row_number DESC) = 1)
SELECT l.merchant_key, l.business_key, l.sigun_cd, coalesce(l.code, c.name_code) AS industry_code
FROM latest l LEFT JOIN codes c USING (industry_name);
CREATE TEMP TABLE history AS
WITH o AS (SELECT merchant_key, business_key, status_code, _ingested_at, _upload_id, _row_number,
                  CASE WHEN status_code = '03' AND CLSBIZ_DAY IS NOT NULL THEN CLSBIZ_DAY
                       ELSE CAST(_ingested_at + INTERVAL 9 HOUR AS DATE) END AS effective_on,
                  lag(status_code) OVER (PARTITION BY merchant_key ORDER BY _ingested_at, _upload_id, _row_number) AS prev
           FROM obs),
runs AS (SELECT * FROM o WHERE prev IS NULL OR prev <> status_code)
SELECT r.merchant_key, g.business_key, r.status_code, r.effective_on AS valid_from,
       lead(r.effective_on) OVER (PARTITION BY r.merchant_key ORDER BY r._ingested_at, r._upload_id, r._row_number) AS valid_to
FROM runs r JOIN registry g USING (merchant_key);
CREATE TEMP TABLE events AS
SELECT tx_id, coalesce(nullif(trim(orig_tx_id), ''), tx_id) AS payment_id,
       nullif(trim(orig_tx_id), '') IS NOT NULL AS is_refund, tx_ts, merchant_key, card_key, age_band, gender,
       nullif(trim(policy_fund), '') AS policy_fund, amount
FROM bronze_kona
QUALIFY row_number() OVER (PARTITION BY tx_id ORDER BY _ingested_at, _upload_id, _row_number) = 1;
CREATE TEMP TABLE tx AS
WITH refunded AS (SELECT payment_id, -sum(amount) AS refunded FROM events WHERE is_refund GROUP BY ALL),
netted AS (
    SELECT p.*, 'payment' AS kind, p.amount - coalesce(r.refunded, 0) AS net_amount
    FROM events p LEFT JOIN refunded r USING (payment_id) WHERE NOT p.is_refund
    UNION ALL
    SELECT e.*, 'orphan_refund' AS kind, e.amount AS net_amount FROM events e
    WHERE e.is_refund AND NOT EXISTS (SELECT 1 FROM events p WHERE NOT p.is_refund AND p.tx_id = e.payment_id))
SELECT n.*, g.business_key, g.sigun_cd, g.industry_code,
       tx_ts + INTERVAL 9 HOUR AS local_ts  -- Korean time: no daylight saving
FROM netted n LEFT JOIN registry g USING (merchant_key);
CREATE TEMP TABLE spending_cube AS
SELECT sigun_cd, industry_code, age_band, gender,
       CASE WHEN hour(local_ts) <= 5 THEN '00-05' WHEN hour(local_ts) <= 10 THEN '06-10'
            WHEN hour(local_ts) <= 13 THEN '11-13' WHEN hour(local_ts) <= 16 THEN '14-16'
            WHEN hour(local_ts) <= 20 THEN '17-20' ELSE '21-23' END AS hour_band,
       CASE WHEN dayofweek(local_ts) IN (0, 6) THEN 'weekend' ELSE 'weekday' END AS day_type,
       CAST(date_trunc('month', local_ts) AS DATE) AS month,
       sum(net_amount) AS spending, count(*) FILTER (WHERE kind = 'payment') AS transactions,
       count(DISTINCT card_key) FILTER (WHERE kind = 'payment') AS cardholders,
       count(DISTINCT merchant_key) FILTER (WHERE kind = 'payment') AS merchants
FROM tx GROUP BY ALL;
CREATE TEMP TABLE sales AS
SELECT business_key, CAST(date_trunc('month', local_ts) AS DATE) AS month, sum(net_amount) AS sales_amount,
       count(*) FILTER (WHERE kind = 'payment') AS payments,
       count(DISTINCT card_key) FILTER (WHERE kind = 'payment') AS customers,
       sum(CASE WHEN policy_fund IS NOT NULL THEN net_amount ELSE 0 END) AS policy_fund_amount
FROM tx WHERE business_key IS NOT NULL GROUP BY ALL;
CREATE TEMP TABLE visits AS
SELECT DISTINCT business_key, card_key, CAST(date_trunc('month', local_ts) AS DATE) AS month
FROM tx WHERE business_key IS NOT NULL AND kind = 'payment';
CREATE TEMP TABLE repeats AS
SELECT v.business_key, v.month, count(*) AS repeat_customers FROM visits v
WHERE EXISTS (SELECT 1 FROM visits p WHERE p.business_key = v.business_key AND p.card_key = v.card_key
              AND p.month >= v.month - INTERVAL 3 MONTH AND p.month < v.month)
GROUP BY ALL;
CREATE TEMP TABLE credit AS
SELECT business_key, snapshot_month AS month, credit_grade, delinquency_count, delinquency_days, loan_balance,
       years_in_business FROM bronze_credit
QUALIFY row_number() OVER (PARTITION BY business_key, snapshot_month ORDER BY _ingested_at DESC, _upload_id DESC, _row_number DESC) = 1;
CREATE TEMP TABLE employment AS
SELECT business_key, month, insured_employees, hires, separations, job_postings FROM bronze_employment
QUALIFY row_number() OVER (PARTITION BY business_key, month ORDER BY _ingested_at DESC, _upload_id DESC, _row_number DESC) = 1;
CREATE TEMP TABLE guarantees AS
SELECT business_key, start_date, amount, default_date FROM bronze_guarantees
QUALIFY row_number() OVER (PARTITION BY guarantee_id ORDER BY _ingested_at DESC, _upload_id DESC, _row_number DESC) = 1;
CREATE TEMP TABLE merchant_month_features AS
WITH active AS (SELECT business_key, month FROM sales UNION ALL SELECT business_key, month FROM credit
                UNION ALL SELECT business_key, month FROM employment),
spine AS (SELECT a.business_key, CAST(unnest(generate_series(min(a.month), (SELECT max(month) FROM active),
                 INTERVAL 1 MONTH)) AS DATE) AS month FROM active a GROUP BY a.business_key),
base AS (
    SELECT s.business_key, s.month, coalesce(x.sales_amount, 0) AS sales_amount, coalesce(x.payments, 0) AS payments,
           coalesce(x.customers, 0) AS customers, coalesce(x.policy_fund_amount, 0) AS policy_fund_amount,
           coalesce(r.repeat_customers, 0) AS repeat_customers,
           c.month AS c_month, c.credit_grade, c.delinquency_count, c.delinquency_days, c.loan_balance, c.years_in_business,
           e.month AS e_month, e.insured_employees, e.hires, e.separations, e.job_postings
    FROM spine s LEFT JOIN sales x USING (business_key, month) LEFT JOIN repeats r USING (business_key, month)
    LEFT JOIN credit c USING (business_key, month) LEFT JOIN employment e USING (business_key, month)),
windowed AS (
    SELECT *, row_number() OVER w AS months_active,
           lag(sales_amount) OVER w AS prev_sales,
           avg(sales_amount) OVER (w ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS recent3,
           avg(sales_amount) OVER (w ROWS BETWEEN 5 PRECEDING AND 3 PRECEDING) AS before3,
           stddev_pop(sales_amount) OVER (w ROWS BETWEEN 5 PRECEDING AND CURRENT ROW) AS sd6,
           avg(sales_amount) OVER (w ROWS BETWEEN 5 PRECEDING AND CURRENT ROW) AS avg6,
           last_value(c_month IGNORE NULLS) OVER (w ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS credit_month,
           last_value(credit_grade IGNORE NULLS) OVER (w ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS credit_grade_cf,
           last_value(e_month IGNORE NULLS) OVER (w ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS employment_month,
           last_value(insured_employees IGNORE NULLS) OVER (w ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS insured_cf
    FROM base WINDOW w AS (PARTITION BY business_key ORDER BY month)),
guaranteed AS (
    SELECT s.business_key, s.month,
           sum(CASE WHEN g.start_date <= last_day(s.month) AND NOT coalesce(g.default_date <= last_day(s.month), false) THEN 1 ELSE 0 END) AS guarantees_active,
           sum(CASE WHEN g.default_date <= last_day(s.month) THEN 1 ELSE 0 END) AS guarantee_defaults_to_date
    FROM spine s JOIN guarantees g USING (business_key) GROUP BY ALL),
place AS (SELECT business_key, min(sigun_cd) AS sigun_cd, min(industry_code) AS industry_code FROM registry GROUP BY ALL),
status AS (
    SELECT s.business_key, s.month, max(CASE h.status_code WHEN '01' THEN 3 WHEN '02' THEN 2 ELSE 1 END) AS rank
    FROM spine s JOIN history h ON h.business_key = s.business_key
     AND h.valid_from <= last_day(s.month) AND (h.valid_to IS NULL OR h.valid_to > last_day(s.month))
    GROUP BY ALL)
SELECT w.business_key, w.month, p.sigun_cd, p.industry_code,
       CASE st.rank WHEN 3 THEN 'active' WHEN 2 THEN 'suspended' WHEN 1 THEN 'closed' END AS registry_status,
       w.months_active, w.sales_amount, w.payments, w.customers,
       CASE WHEN w.customers > 0 THEN w.repeat_customers / w.customers END AS repeat_customer_ratio,
       CASE WHEN w.sales_amount > 0 THEN w.policy_fund_amount / w.sales_amount END AS policy_fund_share,
       CASE WHEN w.prev_sales > 0 THEN w.sales_amount / w.prev_sales - 1 END AS sales_growth_1m,
       CASE WHEN w.months_active >= 6 AND w.before3 > 0 THEN w.recent3 / w.before3 - 1 END AS sales_growth_3m,
       CASE WHEN w.months_active >= 3 AND w.avg6 > 0 THEN w.sd6 / w.avg6 END AS sales_volatility_6m,
       w.credit_month, w.credit_grade_cf AS credit_grade, w.employment_month, w.insured_cf AS insured_employees,
       coalesce(g.guarantees_active, 0) AS guarantees_active,
       coalesce(g.guarantee_defaults_to_date, 0) AS guarantee_defaults_to_date
FROM windowed w LEFT JOIN guaranteed g USING (business_key, month) LEFT JOIN place p USING (business_key)
LEFT JOIN status st USING (business_key, month);
"""


def bench_fusion(settings: Settings, merchants: int, months: int, seed: int = 7, keep: Path | None = None,
                 day: bool = True) -> dict:
    """Fusion from scratch (Sail, Delta) against the gold computation in DuckDB; then, with
    ``day``, one more daily kona file ingested and fused into a copy of that lake, against
    the same full fusion, and its gold checked against DuckDB's on the grown bronze."""
    work = keep or Path(tempfile.gettempdir()) / "lcdp-bench-fusion"
    home = work / "home"
    bronze = build_bronze(home, merchants, months, seed)
    for layer in ("silver", "gold"):
        shutil.rmtree(home / "lake" / layer, ignore_errors=True)
    ours = _measure_fusion(home, full=True)
    peer, agreement = _duckdb_gold(home, work / "duckdb-gold")
    result = {
        "stage": "fusion",
        "input": {"merchants": merchants, "months": months, "seed": seed, "bronze_rows": bronze["bronze_rows"]},
        "lcdp_fusion": ours,
        "duckdb_gold": peer,
        "ratio_seconds": round(ours["seconds"] / peer["seconds"], 2),
        "ratio_peak_rss": round(ours["peak_rss_mib"] / peer["peak_rss_mib"], 2),
        "same_result": agreement,
        "note": "lcdp_fusion runs every step from scratch through the embedded Sail engine: five silver "
                "tables and two gold tables written to Delta with lineage commits (peak memory includes "
                "the engine, in-process). duckdb_gold computes only the two gold tables, in memory, "
                "from the same bronze Delta tables (read through delta-rs), and writes them as Parquet. "
                "Seconds exclude imports, engine start and reading the lake's log.",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    if day:
        result["one_more_day"] = _one_more_day(work, home, Path(bronze["day_file"]), ours)
    return result


def _measure_fusion(home: Path, full: bool) -> dict:
    return measure(f"""
        from pathlib import Path
        from lcdp.settings import Settings
        from lcdp.lake import engine
        from lcdp.pipeline import fusion
        settings = Settings(home=Path({str(home)!r}), pseudonym_key={BENCH_KEY!r})
        engine.spark(settings)
    """, f"""
        steps = fusion.run_all(settings, full={full!r})
        result = {{"steps": {{s.table: {{"seconds": s.seconds, "rows": s.rows, "mode": s.mode, "scope": s.scope}}
                             for s in steps}}}}
    """)


def _duckdb_gold(home: Path, out: Path) -> tuple[dict, dict]:
    """DuckDB's gold from the home's bronze (measured in its own process), compared with ours."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    tables = {"bronze_kona": "kona_transactions", "bronze_merchants": "ggdata_merchants", "bronze_credit": "ked_credit",
              "bronze_guarantees": "gcgf_guarantees", "bronze_employment": "gjf_employment"}
    peer = measure(f"""
        import duckdb
        from deltalake import DeltaTable
        con = duckdb.connect()
        con.execute("SET threads = {os.cpu_count()}")
        datasets = {{view: DeltaTable({str(home / 'lake' / 'bronze')!r} + "/" + name).to_pyarrow_dataset()
                    for view, name in {tables!r}.items()}}
        for view, dataset in datasets.items():
            con.register(view, dataset)
    """, f"""
        con.execute({DUCKDB_GOLD!r})
        for table in ("merchant_month_features", "spending_cube"):
            con.execute(f"COPY {{table}} TO '{out}/{{table}}.parquet' (FORMAT parquet)")
        result = {{"rows": {{t: con.execute(f"SELECT count(*) FROM {{t}}").fetchone()[0]
                            for t in ("merchant_month_features", "spending_cube")}}}}
    """)
    return peer, _compare(home, out)


def _link_copy(source: Path, target: Path) -> None:
    """A copy of a home whose Delta data files are hard links (they are never rewritten) and
    everything else real copies (logs, checkpoints and the metadata database are)."""
    def copy(src: str, dst: str) -> None:
        if src.endswith(".parquet") and "/_delta_log/" not in src:
            os.link(src, dst)
        else:
            shutil.copy2(src, dst)

    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target, copy_function=copy)


def _one_more_day(work: Path, home: Path, day_file: Path, full: dict) -> dict:
    """The held-out last day, as its daily kona file: ingested into a copy of the fused lake,
    then fused incrementally, each in a fresh process; the grown lake's gold against DuckDB's
    from scratch on the same bronze."""
    day_home = work / "home-day"
    _link_copy(home, day_home)
    try:
        ingest = measure(f"""
            from pathlib import Path
            from lcdp.settings import Settings
            from lcdp.ingest import ingest_file
            from lcdp.lake import engine
            settings = Settings(home=Path({str(day_home)!r}), pseudonym_key={BENCH_KEY!r})
            engine.spark(settings)
        """, f"""
            r = ingest_file(settings, "kona", "transactions", Path({str(day_file)!r}))
            result = {{"rows": r.rows_valid, "rows_quarantined": r.rows_quarantined}}
        """)
        fused = _measure_fusion(day_home, full=False)
        peer, agreement = _duckdb_gold(day_home, work / "duckdb-gold-day")
    finally:
        shutil.rmtree(day_home, ignore_errors=True)
    return {
        "day_file": day_file.name, "ingest": ingest, "lcdp_fusion": fused, "duckdb_gold_from_scratch": peer,
        "ratio_seconds_vs_full_fusion": round(fused["seconds"] / full["seconds"], 3),
        "same_result": agreement,
        "note": "one daily kona file ingested, then `lcdp fuse` (incremental) on the lake the full "
                "fusion made; the ratio is the incremental fusion's seconds over the full fusion's. "
                "same_result compares its gold with DuckDB's computed from scratch on the same bronze.",
    }


def _compare(home: Path, peer_out: Path) -> dict:
    """Both sides' gold, side by side: row counts, spending per region and month, and every
    cube cell and the main feature columns row for row."""
    import duckdb

    con = duckdb.connect()
    lake = home / "lake" / "gold"
    from deltalake import DeltaTable

    con.register("ours_cube", DeltaTable(str(lake / "spending_cube")).to_pyarrow_dataset())
    con.register("ours_features", DeltaTable(str(lake / "merchant_month_features")).to_pyarrow_dataset())
    query = textwrap.dedent(f"""
        SELECT (SELECT count(*) FROM ours_features), (SELECT count(*) FROM '{peer_out}/merchant_month_features.parquet'),
               (SELECT count(*) FROM ours_cube), (SELECT count(*) FROM '{peer_out}/spending_cube.parquet'),
               (SELECT count(*) FROM (
                   SELECT sigun_cd, month, sum(spending) FROM ours_cube GROUP BY ALL
                   EXCEPT SELECT sigun_cd, month, sum(spending) FROM '{peer_out}/spending_cube.parquet' GROUP BY ALL)),
               (SELECT sum(spending) FROM ours_cube),
               (SELECT count(*) FROM (
                   SELECT sigun_cd, industry_code, age_band, gender, hour_band, day_type, month, spending,
                          transactions, cardholders, merchants FROM ours_cube EXCEPT
                   SELECT sigun_cd, industry_code, age_band, gender, hour_band, day_type, month, spending,
                          transactions, cardholders, merchants FROM '{peer_out}/spending_cube.parquet')),
               (SELECT count(*) FROM (
                   SELECT business_key, month, sales_amount, customers, credit_grade, guarantees_active, registry_status
                   FROM ours_features EXCEPT
                   SELECT business_key, month, sales_amount, customers, credit_grade, guarantees_active, registry_status
                   FROM '{peer_out}/merchant_month_features.parquet'))
    """)
    (f_ours, f_peer, c_ours, c_peer, region_months_differing, spending, cube_rows_differing,
     feature_rows_differing) = con.execute(query).fetchone()
    return {"features_rows": [f_ours, f_peer], "cube_rows": [c_ours, c_peer],
            "region_months_with_different_spending": region_months_differing, "total_spending": int(spending or 0),
            "cube_rows_differing": cube_rows_differing, "feature_rows_differing": feature_rows_differing,
            "equal": f_ours == f_peer and c_ours == c_peer and region_months_differing == 0
            and cube_rows_differing == 0 and feature_rows_differing == 0}


#: ``lcdp bench fusion --grid``: world sizes × history lengths, each fused from scratch.
GRID_MERCHANTS = (300, 1000, 5000)
GRID_MONTHS = (6, 12, 24, 60)


def bench_fusion_grid(settings: Settings, merchants: tuple[int, ...] = GRID_MERCHANTS,
                      months: tuple[int, ...] = GRID_MONTHS, seed: int = 7, keep: Path | None = None,
                      progress: Callable[[dict], None] = lambda _cell: None) -> dict:
    """``bench_fusion`` on every cell of merchants × months at the current settings: seconds,
    peak memory and pass/fail (fused, and equal to DuckDB's gold) per cell, then the slope of
    time against months at fixed merchants and against merchants at fixed months.

    A cell that fails is recorded with its one-line reason and the grid goes on. Each cell's
    bronze lake is kept under ``keep`` (reused by a rerun with the same parameters).
    """
    from lcdp.lake.engine import permanent_failure

    work = keep or Path(tempfile.gettempdir()) / "lcdp-bench-fusion-grid"
    cells = []
    for m in merchants:
        for n in months:
            cell: dict = {"merchants": m, "months": n}
            try:
                result = bench_fusion(settings, m, n, seed, keep=work / f"m{m}-n{n}", day=False)
            except RuntimeError as exc:
                text = str(exc)
                cell.update(passed=False, error=permanent_failure(exc) or text.strip().splitlines()[-1][:400])
            else:
                ours, peer = result["lcdp_fusion"], result["duckdb_gold"]
                cell.update(passed=result["same_result"]["equal"],
                            payments=result["input"]["bronze_rows"].get("bronze.kona_transactions"),
                            seconds=ours["seconds"], peak_rss_mib=ours["peak_rss_mib"],
                            duckdb_seconds=peer["seconds"], duckdb_peak_rss_mib=peer["peak_rss_mib"],
                            ratio_seconds=result["ratio_seconds"],
                            step_seconds={t: v["seconds"] for t, v in ours["steps"].items()})
            cells.append(cell)
            progress(cell)
    return {
        "stage": "fusion-grid",
        "engine_memory_bytes": settings.engine_memory_bytes,
        "cells": cells,
        "slopes": grid_slopes(cells),
        "note": "Each cell is `lcdp bench fusion` from scratch: our fusion's seconds and peak memory, "
                "DuckDB's gold beside it, and whether both gold results are equal. Slopes are "
                "least-squares fits of our seconds; r2 near 1 means time grows linearly.",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }


def _fit(points: list[tuple[float, float]]) -> dict | None:
    """Least-squares line through (x, seconds): slope, intercept and r²."""
    if len(points) < 2:
        return None
    x, y = np.array(points, dtype=float).T
    slope, intercept = np.polyfit(x, y, 1)
    residual = y - (slope * x + intercept)
    spread = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - float((residual ** 2).sum()) / spread if spread else 1.0
    return {"slope": round(float(slope), 5), "intercept": round(float(intercept), 2), "r2": round(r2, 3),
            "points": len(points)}


def grid_slopes(cells: list[dict]) -> dict:
    """Seconds against months (per merchants value) and against merchants (per months value),
    over the cells that passed."""
    passed = [c for c in cells if c.get("passed")]
    by_merchants = {m: _fit([(c["months"], c["seconds"]) for c in passed if c["merchants"] == m])
                    for m in sorted({c["merchants"] for c in cells})}
    by_months = {n: _fit([(c["merchants"], c["seconds"]) for c in passed if c["months"] == n])
                 for n in sorted({c["months"] for c in cells})}
    return {"seconds_per_month": {f"{m} merchants": f for m, f in by_merchants.items()},
            "seconds_per_merchant": {f"{n} months": f for n, f in by_months.items()},
            "seconds_per_million_payments": _fit([(c["payments"] / 1e6, c["seconds"]) for c in passed
                                                  if c.get("payments")])}
