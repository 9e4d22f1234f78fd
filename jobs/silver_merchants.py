"""``silver.merchants``: the merchant registry conformed, with its status history.

Each registry delivery is an *observation* of every merchant it lists. Attributes (name,
industry, place) follow the latest observation; the status (active → suspended → closed) is a
slowly changing dimension of type 2: one row per run of equal statuses, numbered by
``status_seq``, valid from ``valid_from`` until ``valid_to`` (exclusive), ``is_current`` on
the last. A run starts on the closure day when the registry gives one (``CLSBIZ_DAY``),
otherwise on the (Korean) day the registry first said so: the registry has no other dates.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.deduplicate import DELIVERY_ORDER, last_per_key
from jobs.schema import conform
from lcdp.lake.dictionary import Columns

#: The province's extent (Gyeonggi-do, WGS84): a coordinate outside it is not the merchant's.
LAT_RANGE, LON_RANGE = (36.8, 38.4), (126.3, 127.9)
STATUS_CODES = {"01": "active", "02": "suspended", "03": "closed"}
LOCAL_TZ = "Asia/Seoul"

OUTPUT_DDL = (
    "merchant_key string, status_seq int, business_key string, merchant_name string, sigun_cd string, "
    "sigun_nm string, industry_code string, industry_name string, road_address string, "
    "lot_address string, zip_code string, lat double, lon double, coordinates string, "
    "status string, status_code string, closed_on date, valid_from date, valid_to date, "
    "is_current boolean, _upload_id string, _ingested_at timestamp"
)


def clean_industry_name(raw: Column) -> Column:
    """The industry name without the registry's noise: ``5202(편의점/편의점)`` → ``편의점``,
    ``(일반음식점일반음식점)`` → ``일반음식점``; ``미용실`` stays; empty → null."""
    text = F.trim(F.regexp_replace(F.regexp_replace(F.trim(raw), r"^[0-9]+", ""), r"[()]", ""))
    parts = F.split(text, "/")
    left, right = F.get(parts, 0), F.get(parts, 1)  # get(): null past the end, not an error
    repeated_with_slash = F.when((F.size(parts) == 2) & (left == right), left)
    half = (F.length(text) / 2).cast("int")
    first, second = text.substr(F.lit(1), half), text.substr(half + 1, half)
    written_twice = F.when((F.length(text) > 0) & (F.length(text) % 2 == 0) & (first == second), first)
    return F.nullif(F.coalesce(repeated_with_slash, written_twice, text), F.lit(""))


def _in_range(value: Column, bounds: tuple[float, float]) -> Column:
    return value.between(bounds[0], bounds[1])


def conform_coordinates(lat: Column, lon: Column) -> tuple[Column, Column, Column]:
    """``(lat, lon, quality)``: inside the province as delivered (``valid``), inside once the
    pair is swapped back (``swapped``), else both null (``missing``: 0, absent or elsewhere)."""
    valid = _in_range(lat, LAT_RANGE) & _in_range(lon, LON_RANGE)
    swapped = _in_range(lon, LAT_RANGE) & _in_range(lat, LON_RANGE)
    quality = F.when(valid, "valid").when(swapped, "swapped").otherwise("missing")
    return (F.when(valid, lat).when(swapped, lon).cast("double"),
            F.when(valid, lon).when(swapped, lat).cast("double"), quality)


def observations(bronze: DataFrame) -> DataFrame:
    """One typed row per merchant and registry delivery, in the silver vocabulary."""
    code_in_name = F.regexp_extract(F.trim(F.col("INDUTYPE_NM")), r"^([0-9]{3,6})", 1)
    lat, lon, quality = conform_coordinates(F.col("REFINE_WGS84_LAT"), F.col("REFINE_WGS84_LOGT"))
    status = F.create_map(*[F.lit(x) for kv in STATUS_CODES.items() for x in kv])[F.col("LEAD_TAX_MAN_STATE_CD")]
    observed_on = F.to_date(F.from_utc_timestamp(F.col("_ingested_at"), LOCAL_TZ))
    return bronze.select(
        "merchant_key", "business_key",
        F.col("CMPNM_NM").alias("merchant_name"),
        F.col("SIGUN_CD").alias("sigun_cd"), F.col("SIGUN_NM").alias("sigun_nm"),
        F.coalesce(F.nullif(F.trim(F.col("INDUTYPE_CD")), F.lit("")), F.nullif(code_in_name, F.lit(""))).alias("industry_code"),
        clean_industry_name(F.col("INDUTYPE_NM")).alias("industry_name"),
        F.col("REFINE_ROADNM_ADDR").alias("road_address"), F.col("REFINE_LOTNO_ADDR").alias("lot_address"),
        F.col("REFINE_ZIPNO").alias("zip_code"),
        lat.alias("lat"), lon.alias("lon"), quality.alias("coordinates"),
        status.alias("status"), F.col("LEAD_TAX_MAN_STATE_CD").alias("status_code"),
        F.col("CLSBIZ_DAY").alias("closed_on"),
        F.when((F.col("LEAD_TAX_MAN_STATE_CD") == "03") & F.col("CLSBIZ_DAY").isNotNull(), F.col("CLSBIZ_DAY"))
        .otherwise(observed_on).alias("effective_on"),
        *DELIVERY_ORDER,
    )


def industry_codes(obs: DataFrame) -> DataFrame:
    """Cleaned industry name → code, learned from the rows that carry both (the registry
    drops the code on some rows but never the name). The smallest code wins a tie."""
    return (obs.where(F.col("industry_code").isNotNull() & F.col("industry_name").isNotNull())
            .groupBy("industry_name").agg(F.min("industry_code").alias("_code_from_name")))


def merchant_history(obs: DataFrame, codes: DataFrame) -> DataFrame:
    """The SCD rows of every merchant in ``obs`` (all of its observations, any order)."""
    obs = (obs.join(codes, on="industry_name", how="left")
           .withColumn("industry_code", F.coalesce("industry_code", "_code_from_name")).drop("_code_from_name"))
    ordered = Window.partitionBy("merchant_key").orderBy(*DELIVERY_ORDER)
    runs = (obs.withColumn("_previous", F.lag("status_code").over(ordered))
            .where(F.col("_previous").isNull() | (F.col("_previous") != F.col("status_code")))
            .withColumn("status_seq", F.row_number().over(ordered).cast("int")))
    by_seq = Window.partitionBy("merchant_key").orderBy("status_seq")
    runs = runs.select(
        "merchant_key", "status_seq", "status", "status_code", "closed_on",
        F.col("effective_on").alias("valid_from"),
        F.lead("effective_on").over(by_seq).alias("valid_to"),
        "_upload_id", "_ingested_at",
    ).withColumn("is_current", F.col("valid_to").isNull())
    attributes = ["business_key", "merchant_name", "sigun_cd", "sigun_nm", "industry_code", "industry_name",
                  "road_address", "lot_address", "zip_code", "lat", "lon", "coordinates"]
    latest = last_per_key(obs, ["merchant_key"]).select("merchant_key", *attributes)
    return conform(runs.join(latest, on="merchant_key"), OUTPUT_DDL)


COLUMNS = Columns(OUTPUT_DDL, {
    "merchant_key": "pseudonym of the merchant (가맹점) number",
    "status_seq": "1, 2, … per merchant: the order of its status runs",
    "business_key": "pseudonym of the business registration number (BRN); joins every partner",
    "merchant_name": "trading name, as the latest registry delivery gives it",
    "sigun_cd": "city/county code (SIGUN_CD, 31 in Gyeonggi)", "sigun_nm": "city/county name",
    "industry_code": "industry code (from the code, or learned from the cleaned name)",
    "industry_name": "industry name without the registry's noise",
    "road_address": "road-name address", "lot_address": "lot-number address", "zip_code": "postal code",
    "lat": "latitude (WGS84), null when outside the province", "lon": "longitude (WGS84)",
    "coordinates": "valid, swapped (fixed by swapping back) or missing",
    "status": "active, suspended or closed", "status_code": "the registry's code: 01, 02, 03",
    "closed_on": "closure date the registry gives (CLSBIZ_DAY)",
    "valid_from": "first day of this status run (the closure day, else the day the registry first said so)",
    "valid_to": "first day of the next run (exclusive); null on the current one",
    "is_current": "this run is the merchant's latest"})
