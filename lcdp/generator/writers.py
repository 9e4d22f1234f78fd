"""Write a world as partner deliveries in their native formats, plus truth and a manifest.

Layout under ``--out``::

    partners/kona/transactions/kona_tx_YYYYMMDD.csv      CP949 CSV, one file per day
    partners/ggdata/merchants/RegionMnyFacltStus_pNNNN.json  API pages in their envelope
    partners/ked/credit/ked_credit_YYYYMM.psv             pipe-delimited UTF-8, monthly
    partners/gcgf/guarantees/gcgf_guarantees.jsonl        JSON Lines
    partners/gjf/employment/gjf_employment_YYYYMM.parquet Parquet, monthly
    truth/business_month.parquet, truth/expected_spending.parquet   (the oracle; not partner data)
    manifest.json
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, Field

from lcdp.contracts import reference
from lcdp.errors import UsageError
from lcdp.generator.faults import TRICKY_TEXT, FaultPlan, bad_check_digit
from lcdp.generator.world import INDUSTRIES, World, WorldParams, build_world, format_brn

PAGE_SIZE = 1000


def _sha256(path: Path) -> str:
    """The file's SHA-256, as the manifest gives it (a partner hashes its own files)."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


class FileEntry(BaseModel):
    partner: str
    dataset: str
    path: str  # relative to the output folder
    sha256: str
    rows: int
    faulty_rows: int = 0  # records the platform must quarantine
    warned_rows: int = 0  # records kept with a warning
    faults: dict[str, int] = Field(default_factory=dict)


class Manifest(BaseModel):
    params: dict
    dirty: float
    files: list[FileEntry]
    truth: dict[str, str]

    def for_dataset(self, partner: str, dataset: str) -> list[FileEntry]:
        return [f for f in self.files if f.partner == partner and f.dataset == dataset]


class _Writer:
    def __init__(self, out: Path, world: World, dirty: float, seed: int) -> None:
        self.out, self.world = out, world
        self.plan = FaultPlan(np.random.default_rng(seed + 1), dirty)
        self.files: list[FileEntry] = []

    def _entry(self, partner: str, dataset: str, path: Path, rows: int, faults: dict[int, str]) -> None:
        counts = Counter(faults.values())
        warned = sum(n for k, n in counts.items() if FaultPlan.is_warning(dataset, k))
        self.files.append(FileEntry(
            partner=partner, dataset=dataset, path=str(path.relative_to(self.out)), sha256=_sha256(path),
            rows=rows, faulty_rows=len(faults) - warned, warned_rows=warned, faults=dict(counts),
        ))

    def folder(self, partner: str, dataset: str) -> Path:
        path = self.out / "partners" / partner / dataset
        path.mkdir(parents=True, exist_ok=True)
        return path


def _csv_line(values: list[str], delimiter: str) -> str:
    buf = io.StringIO()
    # the line terminator must be "\n" for the writer to quote values that contain newlines
    csv.writer(buf, delimiter=delimiter, lineterminator="\n").writerow(values)
    return buf.getvalue()[:-1]


# --------------------------------------------------------------------------- kona


KONA_COLUMNS = ["tx_id", "card_token", "frcs_no", "tx_ts", "amount", "channel", "age_band", "gender",
                "policy_fund", "orig_tx_id"]


def kona_frame(world: World) -> pd.DataFrame:
    """Transactions as the operator's string columns."""
    tx, biz, cards = world.transactions, world.businesses, world.cardholders
    ts = pd.to_datetime(pd.Series(tx["date"]).astype(str)) + pd.to_timedelta(tx["seconds"], unit="s")
    return pd.DataFrame({
        "tx_id": tx["tx_id"].to_numpy(),
        "card_token": cards["card_token"].to_numpy()[tx["card_idx"]],
        "frcs_no": biz["frcs_no"].to_numpy()[tx["business_idx"]],
        "tx_ts": ts.dt.strftime("%Y-%m-%d %H:%M:%S").to_numpy(),
        "amount": tx["amount"].astype(str).to_numpy(),
        "channel": tx["channel"].to_numpy(),
        "age_band": cards["age_band"].to_numpy()[tx["card_idx"]],
        "gender": cards["gender"].to_numpy()[tx["card_idx"]],
        "policy_fund": tx["policy_fund"].to_numpy(),
        "orig_tx_id": tx["orig_tx_id"].to_numpy(),
        "_date": tx["date"].to_numpy(),
    })


def _kona_fault(row: list[str], kind: str, rng: np.random.Generator, earlier_in_file: list[str],
                earlier_files: list[str]) -> str | list[str]:
    if kind == "short_row":
        return row[:-3]
    if kind == "long_row":
        return row + ["EXTRA"]
    if kind == "non_numeric_amount":
        row[4] = row[4][:-1] + "O"
    elif kind == "negative_amount":
        row[4], row[9] = "-" + row[4].lstrip("-"), ""
    elif kind == "future_date":
        row[3] = "2099" + row[3][4:]
    elif kind == "before_program_start":
        row[3] = "2018" + row[3][4:]
    elif kind == "bad_timestamp":
        row[3] = row[3][:8] + "32 25:61:00"
    elif kind == "unknown_channel":
        row[5] = "현금"
    elif kind == "missing_card":
        row[1] = ""
    elif kind == "duplicate_in_file":
        row[0] = earlier_in_file[int(rng.integers(len(earlier_in_file)))]
    elif kind == "duplicate_across_files":
        row[0] = earlier_files[int(rng.integers(len(earlier_files)))]
    return row


def write_kona(w: _Writer, single_file: bool = False) -> None:
    frame = kona_frame(w.world)
    folder = w.folder("kona", "transactions")
    groups = [(None, frame)] if single_file else list(frame.groupby("_date", sort=True))
    earlier_files: list[str] = []
    for day, rows in groups:
        name = "kona_tx_all.csv" if day is None else f"kona_tx_{day:%Y%m%d}.csv"
        records = rows[KONA_COLUMNS].to_numpy().tolist()
        faults = w.plan.choose(len(records), "transactions")
        # duplicates need an earlier clean record to copy; drop the fault where there is none
        clean_ids: list[str] = []
        lines = [",".join(KONA_COLUMNS)]
        for i, rec in enumerate(records):
            kind = faults.get(i)
            if kind == "duplicate_in_file" and not clean_ids or kind == "duplicate_across_files" and not earlier_files:
                del faults[i]
                kind = None
            if kind is None:
                clean_ids.append(rec[0])
                lines.append(",".join(rec))
            else:
                out = _kona_fault(list(rec), kind, w.plan.rng, clean_ids, earlier_files)
                lines.append(",".join(out))
        path = folder / name
        path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp949"))
        w._entry("kona", "transactions", path, len(records), faults)
        earlier_files.extend(clean_ids[:: max(1, len(clean_ids) // 50)])


# --------------------------------------------------------------------------- ggdata


def _messy_industry(code: str, name: str, k: int) -> tuple[str, str]:
    form = k % 3
    if form == 0:
        return code, f"{code}({name}/{name})"
    if form == 1:
        return "", f"({name}{name})"
    return code, name


def write_ggdata(w: _Writer) -> None:
    world, ref = w.world, reference()
    biz = world.businesses
    last = len(world.months) - 1
    listed = biz[biz["opened_idx"] <= last].reset_index(drop=True)
    rows: list[dict] = []
    for i, b in listed.iterrows():
        code, name = INDUSTRIES[b["industry_idx"]][:2]
        cd, nm = _messy_industry(code, name, i)
        closed = b["closed_idx"] >= 0
        state_cd = "03" if closed else ("02" if b["suspended"] else "01")
        clsbiz = (world.months[b["closed_idx"]] + dt.timedelta(days=int(i % 27))).strftime("%Y%m%d") if closed else ""
        text_name = TRICKY_TEXT[i % len(TRICKY_TEXT)] if i % 97 == 5 else b["name"]
        rows.append({
            "SIGUN_CD": b["sigun_cd"], "SIGUN_NM": ref.sigun[b["sigun_cd"]], "CMPNM_NM": text_name,
            "INDUTYPE_CD": cd, "INDUTYPE_NM": nm,
            "REFINE_ROADNM_ADDR": f"경기도 {ref.sigun[b['sigun_cd']]} 중앙로 {10 + i % 300}",
            "REFINE_LOTNO_ADDR": f"경기도 {ref.sigun[b['sigun_cd']]} {i % 900 + 1}번지",
            "REFINE_ZIPNO": f"{10000 + (int(b['sigun_cd']) * 7 + i) % 9000:05d}",
            "REFINE_WGS84_LAT": round(float(b["lat"]), 6), "REFINE_WGS84_LOGT": round(float(b["lon"]), 6),
            "BIZREGNO": format_brn(b["brn"]), "FRCS_NO": b["frcs_no"],
            "LEAD_TAX_MAN_STATE": {"01": "계속사업자", "02": "휴업자", "03": "폐업자"}[state_cd],
            "LEAD_TAX_MAN_STATE_CD": state_cd, "CLSBIZ_DAY": clsbiz,
        })
    faults = w.plan.choose(len(rows), "merchants")
    for i, kind in faults.items():
        r = rows[i]
        if kind == "unknown_sigun":
            r["SIGUN_CD"] = "41999"
        elif kind == "bad_brn_check":
            r["BIZREGNO"] = bad_check_digit(r["BIZREGNO"])
        elif kind == "missing_frcs":
            r["FRCS_NO"] = ""
        elif kind == "bad_zip":
            r["REFINE_ZIPNO"] = "ABCDE"
        elif kind == "swapped_coordinates":
            r["REFINE_WGS84_LAT"], r["REFINE_WGS84_LOGT"] = r["REFINE_WGS84_LOGT"], r["REFINE_WGS84_LAT"]
        elif kind == "zero_coordinates":
            r["REFINE_WGS84_LAT"] = r["REFINE_WGS84_LOGT"] = 0
        elif kind == "formula_prefix":
            r["CMPNM_NM"] = "=cmd|' /C calc'!A0"
    # a clean row whose name happens to start like a formula is a warning too
    extra_warn = {i for i, r in enumerate(rows) if r["CMPNM_NM"].startswith(("=", "+", "-", "@")) and i not in faults}
    folder = w.folder("ggdata", "merchants")
    for page_no, start in enumerate(range(0, max(len(rows), 1), PAGE_SIZE), start=1):
        page = rows[start:start + PAGE_SIZE]
        doc = {"RegionMnyFacltStus": [
            {"head": [{"list_total_count": len(rows)},
                      {"RESULT": {"CODE": "INFO-000", "MESSAGE": "정상 처리되었습니다."}},
                      {"api_version": "1.0"}]},
            {"row": page},
        ]}
        path = folder / f"RegionMnyFacltStus_p{page_no:04d}.json"
        path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
        page_faults = {i - start: k for i, k in faults.items() if start <= i < start + PAGE_SIZE}
        for i in extra_warn:
            if start <= i < start + PAGE_SIZE:
                page_faults[i - start] = "formula_prefix"
        w._entry("ggdata", "merchants", path, len(page), page_faults)


# --------------------------------------------------------------------------- ked, gcgf, gjf


KED_COLUMNS = ["brn", "company_name", "snapshot_month", "credit_grade", "delinquency_count",
               "delinquency_days", "loan_balance", "years_in_business"]


def _alive_months(world: World) -> pd.DataFrame:
    bm = world.business_months
    bm = bm[bm["alive"]].merge(world.businesses[["business_idx", "brn", "name"]], on="business_idx")
    return bm


def write_ked(w: _Writer) -> None:
    bm = _alive_months(w.world)
    folder = w.folder("ked", "credit")
    for month, rows in bm.groupby("month", sort=True):
        records = []
        for k, r in enumerate(rows.itertuples()):
            name = TRICKY_TEXT[k % len(TRICKY_TEXT)] if k % 53 == 7 else r.name
            records.append([format_brn(r.brn), name, f"{month:%Y-%m}", str(r.credit_grade),
                            str(r.delinquency_count), str(r.delinquency_days), str(r.loan_balance),
                            f"{r.years_in_business:.1f}"])
        faults = w.plan.choose(len(records), "credit")
        lines = ["|".join(KED_COLUMNS)]
        for i, rec in enumerate(records):
            kind = faults.get(i)
            if kind == "bad_brn_check":
                rec[0] = bad_check_digit(rec[0])
            elif kind == "grade_out_of_range":
                rec[3] = "11"
            elif kind == "negative_loan":
                rec[6] = "-" + rec[6]
            elif kind == "bad_month":
                rec[2] = f"{month:%Y}-13"
            elif kind == "short_row":
                rec = rec[:4]
            lines.append(_csv_line(rec, "|"))
        path = folder / f"ked_credit_{month:%Y%m}.psv"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        w._entry("ked", "credit", path, len(records), faults)


def write_gcgf(w: _Writer) -> None:
    g = w.world.guarantees.merge(w.world.businesses[["business_idx", "brn"]], on="business_idx")
    records = [{
        "guarantee_id": r.guarantee_id, "brn": format_brn(r.brn), "start_date": f"{r.start_date:%Y-%m-%d}",
        "amount": int(r.amount), "status": r.status,
        "default_date": None if r.default_date is None else f"{r.default_date:%Y-%m-%d}",
        "subrogation_amount": None if pd.isna(r.subrogation_amount) else int(r.subrogation_amount),
    } for r in g.itertuples()]
    faults = w.plan.choose(len(records), "guarantees")
    lines = []
    for i, rec in enumerate(records):
        kind = faults.get(i)
        if kind == "invalid_json":
            lines.append(json.dumps(rec, ensure_ascii=False)[:-7])
            continue
        if kind == "not_an_object":
            lines.append(json.dumps(list(rec.values()), ensure_ascii=False))
            continue
        if kind == "bad_status":
            rec["status"] = "UNKNOWN"
        elif kind == "negative_amount":
            rec["amount"] = -rec["amount"]
        elif kind == "future_start":
            rec["start_date"] = "2099-01-01"
        lines.append(json.dumps(rec, ensure_ascii=False))
    path = w.folder("gcgf", "guarantees") / "gcgf_guarantees.jsonl"
    path.write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")
    w._entry("gcgf", "guarantees", path, len(records), faults)


def write_gjf(w: _Writer) -> None:
    bm = _alive_months(w.world)
    folder = w.folder("gjf", "employment")
    for month, rows in bm.groupby("month", sort=True):
        table = {
            "brn": rows["brn"].map(format_brn).tolist(),
            "month": [f"{month:%Y-%m}"] * len(rows),
            "insured_employees": rows["insured_employees"].astype(np.int64).tolist(),
            "hires": rows["hires"].astype(np.int64).tolist(),
            "separations": rows["separations"].astype(np.int64).tolist(),
            "job_postings": rows["job_postings"].astype(np.int64).tolist(),
        }
        faults = w.plan.choose(len(rows), "employment")
        for i, kind in faults.items():
            if kind == "negative_hires":
                table["hires"][i] = -1
            elif kind == "bad_brn_check":
                table["brn"][i] = bad_check_digit(table["brn"][i])
            elif kind == "bad_month":
                table["month"][i] = f"{month:%Y}/{month:%m}"
        path = folder / f"gjf_employment_{month:%Y%m}.parquet"
        pq.write_table(pa.table(table), path)
        w._entry("gjf", "employment", path, len(rows), faults)


def _write_truth(out: Path, world: World) -> dict[str, str]:
    truth = out / "truth"
    truth.mkdir(parents=True, exist_ok=True)
    businesses = world.businesses.assign(
        industry_code=[INDUSTRIES[k][0] for k in world.businesses["industry_idx"]],
        # the share of its credit events that close it: a guaranteed business defaults 70 % of the
        # time and half of those close (``world._events``); every other event is a closure
        close_on_event=np.where(world.businesses["has_guarantee"], 1 - 0.7 * 0.5, 1.0))
    bm = world.business_months.merge(businesses[["business_idx", "brn", "sigun_cd", "industry_code", "event_idx",
                                                 "event_kind", "close_on_event"]], on="business_idx")
    bm = bm[["brn", "sigun_cd", "industry_code", "month", "month_idx", "alive", "hazard", "true_pd_12m", "event_idx",
             "event_kind", "close_on_event", "expected_if_open"]]
    pq.write_table(pa.Table.from_pandas(bm, preserve_index=False), truth / "business_month.parquet")
    pq.write_table(pa.Table.from_pandas(world.expected_spending, preserve_index=False), truth / "expected_spending.parquet")
    return {"business_month": "truth/business_month.parquet", "expected_spending": "truth/expected_spending.parquet"}


def generate(out: Path, params: WorldParams, dirty: float = 0.0, kona_single_file: bool = False,
             progress: Callable[[str], None] | None = None) -> Manifest:
    """Generate the world for ``params`` and write every partner's files under ``out``."""
    try:
        last_month = dt.date.fromisoformat(params.start + "-01")
    except ValueError:
        raise UsageError(f"start must be a month as YYYY-MM, not {params.start!r}") from None
    y, m = divmod(last_month.month - 1 + params.months, 12)
    end = dt.date(last_month.year + y, m + 1, 1)
    if end > dt.date.today():
        raise UsageError(f"{params.months} months from {params.start} reach into the future; choose an earlier start")
    if not 0 <= dirty < 1:
        raise UsageError("dirty must be a rate in [0, 1)")
    out.mkdir(parents=True, exist_ok=True)
    step = progress or (lambda _msg: None)
    step("building the world")
    world = build_world(params)
    writer = _Writer(out, world, dirty, params.seed)
    for label, write in (("kona transactions", lambda: write_kona(writer, kona_single_file)),
                         ("ggdata merchants", lambda: write_ggdata(writer)),
                         ("ked credit", lambda: write_ked(writer)),
                         ("gcgf guarantees", lambda: write_gcgf(writer)),
                         ("gjf employment", lambda: write_gjf(writer))):
        step(f"writing {label}")
        write()
    manifest = Manifest(params=params.__dict__, dirty=dirty, files=writer.files, truth=_write_truth(out, world))
    (out / "manifest.json").write_text(manifest.model_dump_json(indent=2))
    return manifest
