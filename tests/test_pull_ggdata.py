"""The registry pull against the portal simulator: faults survived, crashes resumed, nothing twice."""

from __future__ import annotations

import json

import pytest
from deltalake import DeltaTable

from lcdp.lake import catalog
from lcdp.generator import WorldParams
from lcdp.generator.world import build_world
from lcdp.pull.ggdata import BadApiKey, BadShape, PullError, PullPolicy, QuotaExceeded, pull_merchants
from lcdp.pull.simulator import PortalSimulator

pytestmark = pytest.mark.usefixtures("spark")
FAST = PullPolicy(page_size=25, attempts=4, backoff_seconds=0.01, timeout_seconds=1.0)


@pytest.fixture(scope="module")
def registry_rows() -> list[dict]:
    """110 clean registry rows (5 pages of 25) from the generator's world."""
    from lcdp.generator.writers import _Writer, write_ggdata
    import json, tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        writer = _Writer(Path(tmp), build_world(WorldParams(merchants=110, months=1, seed=9)), 0.0, 9)
        write_ggdata(writer)
        page = json.loads((Path(tmp) / writer.files[0].path).read_text())
        return page["RegionMnyFacltStus"][1]["row"]


def bronze_keys(settings) -> list[str]:
    return DeltaTable(catalog.table("bronze.ggdata_merchants").uri(settings)).to_pyarrow_table().column("merchant_key").to_pylist()


def test_all_pages_arrive_through_5xx_slow_truncated_and_repeated_pages(settings, registry_rows):
    faults = {1: ["http500", "http500"], 2: ["truncated"], 3: ["slow"], 4: ["repeat_previous", "server_error_code"]}
    with PortalSimulator(registry_rows, key="k", faults=faults, slow_seconds=1.5) as sim:
        result = pull_merchants(settings, sim.url, "k", "run1", FAST)
    assert (result.pages, result.rows) == (5, len(registry_rows))
    assert all(r.status == "done" and r.rows_in == r.rows_valid for r in result.receipts)
    keys = bronze_keys(settings)
    assert len(keys) == len(set(keys)) == len(registry_rows)
    assert sim.requests.count(1) == 3 and sim.requests.count(4) == 3  # retried, then served


def test_a_crash_midway_resumes_after_the_last_good_page_with_no_gap_or_duplicate(settings, registry_rows):
    with PortalSimulator(registry_rows, key="k", faults={3: ["http500"] * 10}) as sim:
        with pytest.raises(PullError, match="page 3 failed 4 times"):
            pull_merchants(settings, sim.url, "k", "run2", FAST)
    assert len(bronze_keys(settings)) == 50  # pages 1 and 2 reached bronze
    with PortalSimulator(registry_rows, key="k") as sim:
        resumed = pull_merchants(settings, sim.url, "k", "run2", FAST)
    assert resumed.resumed_from_page == 2 and sim.requests[0] == 3
    keys = bronze_keys(settings)
    assert len(keys) == len(set(keys)) == len(registry_rows)


def test_refetching_a_page_already_loaded_changes_nothing(settings, registry_rows):
    with PortalSimulator(registry_rows, key="k") as sim:
        pull_merchants(settings, sim.url, "k", "run3", FAST)
        again = pull_merchants(settings, sim.url, "k", "run3-again", FAST)  # a new run, same pages
    assert all(r.duplicate_of for r in again.receipts)
    assert len(bronze_keys(settings)) == len(registry_rows)


def test_bad_key_fails_loudly_and_quota_stops_to_resume_later(settings, registry_rows):
    with PortalSimulator(registry_rows, key="right") as sim:
        with pytest.raises(BadApiKey, match="ERROR-290"):
            pull_merchants(settings, sim.url, "wrong", "run4", FAST)
        assert sim.requests == [1]  # no retries against a refused key
    with PortalSimulator(registry_rows, key="k", faults={2: ["quota"]}) as sim:
        with pytest.raises(QuotaExceeded, match="ERROR-337"):
            pull_merchants(settings, sim.url, "k", "run5", FAST)
        result = pull_merchants(settings, sim.url, "k", "run5", FAST)
    assert result.resumed_from_page == 1 and result.pages == 4


def test_unexpected_json_shape_fails_loudly(settings):
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Odd(BaseHTTPRequestHandler):
        def log_message(self, *_a):
            pass

        def do_GET(self):  # noqa: N802
            body = json.dumps({"RegionMnyFacltStus": {"unexpected": True}}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Odd)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(BadShape, match="unexpected shape"):
            pull_merchants(settings, f"http://127.0.0.1:{server.server_address[1]}", "k", "run6", FAST)
    finally:
        server.shutdown()


def test_a_killed_pull_resumes_with_no_gap_and_no_duplicate(settings, registry_rows, tmp_path):
    """SIGKILL the pulling process while it waits on page 3, then resume in another process."""
    import os
    import signal
    import subprocess
    import sys
    import time

    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from lcdp.settings import Settings\n"
        "from lcdp.pull.ggdata import PullPolicy, pull_merchants\n"
        "s = Settings(home=Path(sys.argv[1]), pseudonym_key=sys.argv[3])\n"
        "pull_merchants(s, sys.argv[2], 'k', 'killed', PullPolicy(page_size=25, timeout_seconds=120))\n"
    )
    with PortalSimulator(registry_rows, key="k", faults={3: ["slow"]}, slow_seconds=60) as sim:
        proc = subprocess.Popen([sys.executable, "-c", script, str(settings.home_dir), sim.url,
                                 settings.pseudonym_key.get_secret_value()],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while 3 not in sim.requests:
            assert time.monotonic() < deadline and proc.poll() is None, "the pull never reached page 3"
            time.sleep(0.1)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert len(bronze_keys(settings)) == 50
        resumed = pull_merchants(settings, sim.url, "k", "killed", FAST)
    assert resumed.resumed_from_page == 2 and resumed.pages == 3
    keys = bronze_keys(settings)
    assert len(keys) == len(set(keys)) == len(registry_rows)


def test_a_huge_page_is_held_by_the_pull_neither_whole_nor_parsed(registry_rows, tmp_path):
    """The adapter alone, in child processes (each its own VmHWM): a page of ~60 MB (9,000 rows
    of long names) against a page of 25 rows, each handed to a consumer that reads the stream
    in 1 MiB chunks in place of ingestion (whose own memory, engine included, varies by tens
    of MiB between runs and is measured by ``lcdp bench``). Fetched to a spooled file and its
    envelope read as events, the big page costs the pull a few MiB; holding the body and
    ``json.loads`` of it, as the pull once did, cost about 170 MiB."""
    import os
    import subprocess
    import sys

    script = (
        "import sys, types\n"
        "from pathlib import Path\n"
        "import lcdp.pull.ggdata as g\n"
        "from lcdp.settings import Settings\n"
        "def consume(settings, partner, dataset, deliveries):\n"
        "    (name, stream), = deliveries\n"
        "    while stream.read(1 << 20):\n"
        "        pass\n"
        "    return [types.SimpleNamespace(status='done', error=None, upload_id='u-' + name)]\n"
        "g.ingest_streams = consume\n"
        "s = Settings(home=Path(sys.argv[1]), pseudonym_key='test-key-0123456789abcdef')\n"
        "s.ensure_dirs()\n"
        "rows = g.pull_merchants(s, sys.argv[2], 'k', 'big', g.PullPolicy(page_size=9000)).rows\n"
        "hwm = next(l for l in open('/proc/self/status') if l.startswith('VmHWM'))\n"
        "print(rows, int(hwm.split()[1]) // 1024)\n"
    )

    def peak(rows: list[dict], home: str) -> tuple[int, int]:
        with PortalSimulator(rows, key="k") as sim:
            proc = subprocess.run([sys.executable, "-c", script, str(tmp_path / home), sim.url],
                                  capture_output=True, text=True, timeout=600, env=os.environ)
        assert proc.returncode == 0, proc.stderr[-3000:]
        count, peak_mib = (int(x) for x in proc.stdout.split()[-2:])
        return count, peak_mib

    big_rows = [{**registry_rows[i % len(registry_rows)], "FRCS_NO": f"F{i:07d}", "CMPNM_NM": "가게" * 1100}
                for i in range(9000)]
    assert len(json.dumps(big_rows, ensure_ascii=False).encode()) > 55e6
    small, big = peak(registry_rows[:25], "small"), peak(big_rows, "big")
    print(f"pull of a ~60 MB page: peak {big[1]} MiB against {small[1]} MiB for 25 rows")
    assert (small[0], big[0]) == (25, 9000)
    assert big[1] - small[1] < 30, (big, small)
