"""The fusion rules, pinned on small hand-made DataFrames: deduplication, refunds, unknown
merchants, the registry's status history and point-in-time features."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import functions as F

from jobs.deduplicate import first_per_key, latest_per_key
from jobs.gold_features import merchant_month_features
from jobs.gold_spending_cube import spending_cube
from jobs.silver_merchants import industry_codes, merchant_history, observations
from jobs.silver_snapshots import SNAPSHOTS, conform
from jobs.silver_transactions import OUTPUT_DDL as TX_DDL
from jobs.silver_transactions import silver_transactions

UTC = dt.timezone.utc
KONA_DDL = ("tx_id string, card_key string, merchant_key string, tx_ts timestamp, amount bigint, channel string, "
            "age_band string, gender string, policy_fund string, orig_tx_id string, _upload_id string, "
            "_source_file string, _row_number bigint, _ingested_at timestamp")
MERCHANT_DDL = ("SIGUN_CD string, SIGUN_NM string, CMPNM_NM string, INDUTYPE_CD string, INDUTYPE_NM string, "
                "REFINE_ROADNM_ADDR string, REFINE_LOTNO_ADDR string, REFINE_ZIPNO string, REFINE_WGS84_LAT double, "
                "REFINE_WGS84_LOGT double, business_key string, merchant_key string, LEAD_TAX_MAN_STATE string, "
                "LEAD_TAX_MAN_STATE_CD string, CLSBIZ_DAY date, _upload_id string, _source_file string, "
                "_row_number bigint, _ingested_at timestamp")


def ingested(day: int) -> dt.datetime:
    return dt.datetime(2024, 6, day, 1, 0, tzinfo=UTC)


def kona(spark, rows: list[dict]):
    """Bronze kona rows; ``ts`` is Korean local time as the partner wrote it."""
    out = []
    for i, r in enumerate(rows):
        local = dt.datetime.fromisoformat(r.get("ts", "2024-03-01 12:00:00"))
        out.append((r["tx"], r.get("card", "C1"), r.get("merchant", "M1"),
                    (local - dt.timedelta(hours=9)).replace(tzinfo=UTC), r.get("amount", 10_000), "카드",
                    r.get("age", "20대"), r.get("gender", "남"), r.get("fund"), r.get("orig"),
                    r.get("upload", "u1"), "f.csv", i, ingested(r.get("day", 1))))
    return spark.createDataFrame(out, KONA_DDL)


def registry(spark, rows: list[dict]):
    out = []
    for i, r in enumerate(rows):
        out.append(("41110", "수원시", r.get("name", "가게"), r.get("code", "5202"), r.get("industry", "편의점"),
                    "도로", "지번", "16490", r.get("lat", 37.26), r.get("lon", 127.03), r.get("business", "B1"),
                    r.get("merchant", "M1"), None, r.get("status", "01"), r.get("closed"),
                    r.get("upload", "g1"), "p.json", i, ingested(r.get("day", 1))))
    return spark.createDataFrame(out, MERCHANT_DDL)


def merchants_of(spark, rows: list[dict]):
    obs = observations(registry(spark, rows))
    return merchant_history(obs, industry_codes(obs))


def by(rows, key: str) -> dict:
    return {r[key]: r for r in (r.asDict() for r in rows.collect())}


# --------------------------------------------------------------------------- deduplication


def test_an_event_delivered_twice_is_kept_once_from_its_first_delivery(spark):
    rows = spark.createDataFrame(
        [("T1", 10, "u2", ingested(2), 0), ("T1", 99, "u1", ingested(1), 5), ("T2", 20, "u2", ingested(2), 1)],
        "tx_id string, amount int, _upload_id string, _ingested_at timestamp, _row_number bigint")
    kept = by(first_per_key(rows, ["tx_id"]), "tx_id")
    assert {k: (v["amount"], v["_upload_id"]) for k, v in kept.items()} == {"T1": (99, "u1"), "T2": (20, "u2")}


def test_a_restated_snapshot_keeps_the_latest_values_and_the_first_upload_that_sent_them(spark):
    rows = spark.createDataFrame(
        [("B1", 3, "u1", ingested(1), 0), ("B1", 5, "u2", ingested(2), 0), ("B1", 5, "u3", ingested(3), 0),
         ("B2", 7, "u1", ingested(1), 1)],
        "business_key string, grade int, _upload_id string, _ingested_at timestamp, _row_number bigint")
    kept = by(latest_per_key(rows, ["business_key"], ["grade"]), "business_key")
    assert (kept["B1"]["grade"], kept["B1"]["_upload_id"]) == (5, "u2")  # u3 re-sent u2's values
    assert (kept["B2"]["grade"], kept["B2"]["_upload_id"]) == (7, "u1")


def test_credit_snapshots_are_conformed_on_business_and_month(spark):
    bronze = spark.createDataFrame(
        [("B1", "가게", dt.date(2024, 1, 1), 3, 0, 0, 100, 1.5, "u1", "f", 0, ingested(1)),
         ("B1", "가게", dt.date(2024, 1, 1), 4, 1, 9, 100, 1.5, "u2", "f", 0, ingested(2))],
        "business_key string, company_name string, snapshot_month date, credit_grade bigint, "
        "delinquency_count bigint, delinquency_days bigint, loan_balance bigint, years_in_business double, "
        "_upload_id string, _source_file string, _row_number bigint, _ingested_at timestamp")
    (row,) = conform(SNAPSHOTS["silver.credit_monthly"], bronze).collect()
    assert (row["month"], row["credit_grade"], row["delinquency_days"], row["_upload_id"]) == (
        dt.date(2024, 1, 1), 4, 9, "u2")
    assert "company_name" not in row.asDict()


# --------------------------------------------------------------------------- transactions


def test_refunds_are_netted_against_their_payment_in_the_payment_month(spark):
    bronze = kona(spark, [
        {"tx": "T1", "amount": 30_000, "ts": "2024-01-31 22:00:00"},
        {"tx": "R1", "amount": -10_000, "orig": "T1", "ts": "2024-02-02 10:00:00"},
        {"tx": "R2", "amount": -5_000, "orig": "T1", "ts": "2024-02-03 10:00:00"},
        {"tx": "R2", "amount": -5_000, "orig": "T1", "ts": "2024-02-03 10:00:00", "upload": "u2", "day": 2},
        {"tx": "T2", "amount": 8_000},
    ])
    rows = by(silver_transactions(bronze, merchants_of(spark, [{}])), "tx_id")
    assert set(rows) == {"T1", "T2"}  # refunds fold into their payment; R2's copy counts once
    t1 = rows["T1"]
    assert (t1["amount"], t1["refunded_amount"], t1["net_amount"], t1["refund_count"]) == (30_000, 15_000, 15_000, 2)
    assert t1["tx_month"] == dt.date(2024, 1, 1) and t1["kind"] == "payment"
    assert rows["T2"]["net_amount"] == 8_000 and rows["T2"]["refund_count"] == 0


def test_a_refund_without_its_payment_is_kept_until_the_payment_arrives(spark):
    merchants = merchants_of(spark, [{}])
    refund = {"tx": "R9", "amount": -4_000, "orig": "T9", "ts": "2024-03-05 09:00:00"}
    (orphan,) = silver_transactions(kona(spark, [refund]), merchants).collect()
    assert (orphan["kind"], orphan["tx_id"], orphan["payment_id"], orphan["net_amount"]) == (
        "orphan_refund", "R9", "T9", -4_000)
    late = kona(spark, [refund, {"tx": "T9", "amount": 4_000, "ts": "2024-03-04 20:00:00", "upload": "u2"}])
    (payment,) = silver_transactions(late, merchants).collect()
    assert (payment["tx_id"], payment["kind"], payment["net_amount"], payment["refunded_amount"]) == ("T9", "payment", 0, 4_000)


def test_payments_at_unknown_merchants_are_kept_and_marked(spark):
    bronze = kona(spark, [{"tx": "T1", "merchant": "M1"}, {"tx": "T2", "merchant": "M404"}])
    rows = by(silver_transactions(bronze, merchants_of(spark, [{"merchant": "M1", "business": "B1"}])), "tx_id")
    assert (rows["T1"]["merchant_known"], rows["T1"]["business_key"], rows["T1"]["sigun_cd"]) == (True, "B1", "41110")
    assert rows["T1"]["industry_code"] == "5202"
    assert (rows["T2"]["merchant_known"], rows["T2"]["business_key"], rows["T2"]["sigun_cd"]) == (False, None, None)


def test_calendar_fields_are_korean_time(spark):
    bronze = kona(spark, [{"tx": "T1", "ts": "2024-03-02 00:30:00"}])  # Saturday 00:30 KST = Friday in UTC
    (row,) = silver_transactions(bronze, merchants_of(spark, [{}])).collect()
    assert (row["tx_date"], row["tx_hour"], row["is_weekend"], row["tx_month"]) == (
        dt.date(2024, 3, 2), 0, True, dt.date(2024, 3, 1))
    assert row["tx_ts"].astimezone(UTC).day == 1


# --------------------------------------------------------------------------- merchants


def test_registry_status_history_is_a_slowly_changing_dimension(spark):
    rows = merchants_of(spark, [
        {"status": "01", "day": 1, "upload": "g1"},
        {"status": "01", "day": 2, "upload": "g2"},  # a re-sent registry: no new history row
        {"status": "02", "day": 3, "upload": "g3"},
        {"status": "03", "day": 5, "upload": "g4", "closed": dt.date(2024, 6, 4), "name": "새이름"},
    ]).orderBy("status_seq").collect()
    assert [(r["status_seq"], r["status"], r["valid_from"], r["valid_to"], r["is_current"], r["_upload_id"]) for r in rows] == [
        (1, "active", dt.date(2024, 6, 1), dt.date(2024, 6, 3), False, "g1"),
        (2, "suspended", dt.date(2024, 6, 3), dt.date(2024, 6, 4), False, "g3"),
        (3, "closed", dt.date(2024, 6, 4), None, True, "g4"),
    ]
    assert {r["merchant_name"] for r in rows} == {"새이름"}  # attributes follow the latest delivery


def test_registry_industry_names_and_coordinates_are_cleaned(spark):
    rows = by(merchants_of(spark, [
        {"merchant": "M1", "code": "5202", "industry": "5202(편의점/편의점)"},
        {"merchant": "M2", "code": "", "industry": "(일반음식점일반음식점)"},
        {"merchant": "M3", "code": "7110", "industry": "일반음식점", "lat": 127.03, "lon": 37.26},
        {"merchant": "M4", "code": "9611", "industry": "미용실", "lat": 0.0, "lon": 0.0},
    ]), "merchant_key")
    assert {k: (r["industry_code"], r["industry_name"]) for k, r in rows.items()} == {
        "M1": ("5202", "편의점"), "M2": ("7110", "일반음식점"), "M3": ("7110", "일반음식점"), "M4": ("9611", "미용실")}
    assert (rows["M1"]["lat"], rows["M1"]["lon"], rows["M1"]["coordinates"]) == (37.26, 127.03, "valid")
    assert (rows["M3"]["lat"], rows["M3"]["lon"], rows["M3"]["coordinates"]) == (37.26, 127.03, "swapped")
    assert (rows["M4"]["lat"], rows["M4"]["lon"], rows["M4"]["coordinates"]) == (None, None, "missing")


# --------------------------------------------------------------------------- gold


def _fixed(df):
    """A tiny frame as rows of its own, as the edge's staging makes them: without it the
    features' plan holds the plans of its inputs several times over (minutes on tiny data)."""
    return df.sparkSession.createDataFrame(df.collect(), df.schema)


def features(*inputs):
    return merchant_month_features(*inputs, stage=_fixed)


def _silver_inputs(spark, payments: list[dict], credit=(), guarantees=(), employment=(), registry_rows=None):
    merchants = _fixed(merchants_of(spark, registry_rows or [{"merchant": "M1", "business": "B1"}]))
    transactions = _fixed(silver_transactions(kona(spark, payments), merchants))
    credit_df = spark.createDataFrame(list(credit), SNAPSHOTS["silver.credit_monthly"].ddl)
    guarantees_df = spark.createDataFrame(list(guarantees), SNAPSHOTS["silver.guarantees"].ddl)
    employment_df = spark.createDataFrame(list(employment), SNAPSHOTS["silver.employment_monthly"].ddl)
    return transactions, merchants, credit_df, guarantees_df, employment_df


def _month(n: int) -> str:
    return f"2024-{n:02d}-10 12:00:00"


def test_features_for_a_month_use_no_later_data(spark):
    """Features up to month T are the same whether or not later months exist."""
    payments = [{"tx": f"T{m}{i}", "ts": _month(m), "amount": 1000 * m * (i + 1), "card": f"C{i % 3}"}
                for m in range(1, 9) for i in range(m % 3 + 1)]
    credit = [("B1", dt.date(2024, m, 1), 10 - m, 0, 0, 1000, 2.0, "u", ingested(1)) for m in range(1, 9)]
    employment = [("B1", dt.date(2024, m, 1), m, 0, 0, 0, "u", ingested(1)) for m in range(1, 9)]
    guarantees = [("G1", "B1", dt.date(2024, 2, 15), 5_000_000, "DEFAULTED", dt.date(2024, 7, 20), None, "u", ingested(1))]
    full = features(*_silver_inputs(spark, payments, credit, guarantees, employment))
    cut = dt.date(2024, 5, 1)
    early = features(*_silver_inputs(
        spark, [p for p in payments if p["ts"] < "2024-06"], [c for c in credit if c[1] <= cut], guarantees,
        [e for e in employment if e[1] <= cut]))
    def rows(df):
        return {r["month"]: r.asDict() for r in df.where(F.col("month") <= F.lit(cut)).collect()}

    assert rows(full) == rows(early) and len(rows(full)) == 5
    months = by(full, "month")
    # the guarantee counts from its start; it defaults only from its default date (not its status)
    assert [months[dt.date(2024, m, 1)]["guarantees_active"] for m in range(1, 9)] == [0, 1, 1, 1, 1, 1, 0, 0]
    assert [months[dt.date(2024, m, 1)]["guarantee_defaults_to_date"] for m in range(1, 9)] == [0] * 6 + [1, 1]
    assert months[dt.date(2024, 3, 1)]["credit_grade"] == 7 and months[dt.date(2024, 3, 1)]["insured_employees"] == 3


def test_sales_features_growth_volatility_repeat_customers_and_empty_months(spark):
    payments = [
        {"tx": "T1", "ts": _month(1), "amount": 100, "card": "A"},
        {"tx": "T2", "ts": _month(2), "amount": 300, "card": "A", "fund": "청년기본소득"},
        {"tx": "T3", "ts": _month(2), "amount": 100, "card": "B"},
        {"tx": "T4", "ts": _month(4), "amount": 200, "card": "B"},
    ]
    months = by(features(*_silver_inputs(spark, payments)), "month")
    jan, feb, mar, apr = (months[dt.date(2024, m, 1)] for m in (1, 2, 3, 4))
    assert [m["sales_amount"] for m in (jan, feb, mar, apr)] == [100, 400, 0, 200]  # March is a row, with 0
    assert (feb["customers"], feb["payments"], feb["policy_fund_share"]) == (2, 2, 0.75)
    assert feb["repeat_customer_ratio"] == 0.5  # A came back from January; B is new
    assert apr["repeat_customer_ratio"] == 1.0  # B paid in February, within the last three months
    assert feb["sales_growth_1m"] == 3.0 and apr["sales_growth_1m"] is None  # no growth from zero
    assert mar["sales_volatility_6m"] == pytest.approx((sum((x - 500 / 3) ** 2 for x in (100, 400, 0)) / 3) ** 0.5 / (500 / 3))
    assert jan["sales_volatility_6m"] is None and jan["months_active"] == 1 and apr["months_active"] == 4
    assert jan["sales_growth_3m"] is None


def test_bureau_values_are_carried_forward_for_at_most_three_months(spark):
    payments = [{"tx": f"T{m}", "ts": _month(m)} for m in range(1, 7)]
    credit = [("B1", dt.date(2024, 1, 1), 4, 0, 0, 1000, 2.0, "u", ingested(1))]
    months = by(features(*_silver_inputs(spark, payments, credit)), "month")
    assert [months[dt.date(2024, m, 1)]["credit_grade"] for m in range(1, 7)] == [4, 4, 4, None, None, None]
    assert months[dt.date(2024, 3, 1)]["credit_month"] == dt.date(2024, 1, 1)


def test_registry_status_at_month_end_comes_from_the_history(spark):
    payments = [{"tx": f"T{m}", "ts": _month(m)} for m in range(5, 8)]
    registry_rows = [{"status": "03", "closed": dt.date(2024, 6, 15), "day": 20}]
    months = by(features(*_silver_inputs(spark, payments, registry_rows=registry_rows)), "month")
    # the registry learned of the closure later, but it dates it: closed from June's end on;
    # before its first statement the registry says nothing
    assert [months[dt.date(2024, m, 1)]["registry_status"] for m in (5, 6, 7)] == [None, "closed", "closed"]


def test_spending_cube_cells(spark):
    payments = [
        {"tx": "T1", "ts": "2024-03-02 12:30:00", "amount": 1000, "card": "A"},  # Saturday lunch
        {"tx": "T2", "ts": "2024-03-02 13:10:00", "amount": 3000, "card": "B", "merchant": "M2"},
        {"tx": "R2", "ts": "2024-03-04 09:00:00", "amount": -500, "orig": "T2"},
        {"tx": "T3", "ts": "2024-03-04 07:00:00", "amount": 700, "card": "A", "merchant": "M404"},
    ]
    regs = [{"merchant": "M1", "business": "B1"}, {"merchant": "M2", "business": "B2"}]
    transactions, *_ = _silver_inputs(spark, payments, registry_rows=regs)
    cells = [r.asDict() for r in spending_cube(transactions).collect()]
    known = next(c for c in cells if c["sigun_cd"] == "41110")
    assert (known["hour_band"], known["day_type"], known["spending"], known["transactions"],
            known["cardholders"], known["merchants"]) == ("11-13", "weekend", 3500, 2, 2, 2)
    unknown = next(c for c in cells if c["sigun_cd"] is None)
    assert (unknown["hour_band"], unknown["day_type"], unknown["spending"]) == ("06-10", "weekday", 700)
    assert sum(c["spending"] for c in cells) == 1000 + 3000 - 500 + 700


def test_silver_transactions_schema_is_the_declared_one(spark):
    rows = silver_transactions(kona(spark, [{"tx": "T1"}]), merchants_of(spark, [{}]))
    assert [f"{f.name} {f.dataType.simpleString()}" for f in rows.schema.fields] == TX_DDL.split(", ")
