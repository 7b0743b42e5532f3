"""Import benchmark: a 1 000 000-row CSV imported into a campaign, each import its own process.

    .venv/bin/python benchmarks/import_bench.py [--rows 1000000] [--repeat 5] [--append] [--keep]

Generates realistic rows (Italian numbers in national format, Polish ones as +48, names with
accents, two custom columns), starts an embedded PostgreSQL in a fresh directory (under
DIALER_DATA_DIR when set, else a temp dir) and imports the file ``--repeat`` times, each into a new
campaign (a campaign's first import: it fills a partition of its own) and each in a process of its
own, printing for each the rows per second of the import service (timed inside the process, with
its phases) and of the whole process (interpreter start-up and connecting included); the medians
are the figures. The CPU seconds each run cost (the machine's, the server backend's, the import's
and its stager processes') tell the work from the machine's speed at the time: on this VM the same
import cost from 13.6 to 18 CPU seconds from one minute to the next. Then the same file once more
through the `dialer contacts import` command itself, timed from outside, as an admin runs it. ``--append`` then imports a second file of as many
numbers into a campaign that already has a million entries, which goes through its indexes. The
pure-Python part (decode, CSV, validation, COPY text), run alone in one process, is printed too.

Goal (issue 2): at least 100 000 rows/s on the 2-core machine.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

IT_FIRST = ["Giuseppe", "Maria", "Niccolò", "Lucia", "Francesco", "Giulia", "Andrea", "Chiara", "Luca", "Sofia"]
IT_LAST = ["Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino", "Greco"]
PL_FIRST = ["Łukasz", "Małgorzata", "Paweł", "Agnieszka", "Michał", "Katarzyna", "Wojciech", "Zofia"]
PL_LAST = ["Wiśniewski", "Kowalska", "Wójcik", "Kamińska", "Lewandowski", "Zieliński", "Szymańska", "Dąbrowski"]
IT_CITY = ["Milano", "Roma", "Napoli", "Torino", "Bologna", "Firenze", "Città di Castello"]
PL_CITY = ["Warszawa", "Kraków", "Łódź", "Wrocław", "Poznań", "Gdańsk"]
IT_MOBILE = ["320", "328", "329", "331", "333", "334", "335", "338", "340", "347", "348", "349", "366", "380", "388"]
PL_MOBILE = ["50", "51", "53", "57", "60", "66", "69", "72", "73", "78", "79", "88"]


def generate(path: Path, rows: int, seed: int = 7) -> None:
    rnd = random.Random(seed)
    used: set[int] = set()
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write("Telefono;Cliente;Email;Città;Segmento\n")
        buf = []
        for i in range(rows):
            while True:
                n = rnd.randrange(10_000_000)
                if n not in used:
                    used.add(n)
                    break
            if rnd.random() < 0.7:
                if rnd.random() < 0.85:
                    phone = f"{rnd.choice(IT_MOBILE)} {n:07d}"
                else:
                    phone = f"0{rnd.choice(['2', '6', '11', '51', '55', '81'])} {n:07d}"
                name = f"{rnd.choice(IT_FIRST)} {rnd.choice(IT_LAST)}"
                city = rnd.choice(IT_CITY)
            else:
                phone = f"+48 {rnd.choice(PL_MOBILE)}{n // 10:06d}{n % 10}"
                name = f"{rnd.choice(PL_FIRST)} {rnd.choice(PL_LAST)}"
                city = rnd.choice(PL_CITY)
            email = f"c{i}@example.com" if rnd.random() < 0.6 else ""
            buf.append(f"{phone};{name};{email};{city};{rnd.choice('ABCD')}\n")
            if len(buf) >= 50_000:
                f.write("".join(buf))
                buf.clear()
        f.write("".join(buf))


# One import as its own process: `dialer contacts import`'s service call, timed inside, then the
# report and the timings as JSON on the last line.
_ONE_IMPORT = """
import asyncio, json, os, resource, sys, time
from sqlalchemy import text
from ari_app.db.runtime import Database
from ari_app.services.contacts_import import import_contacts

def cpu(pid):  # user + system seconds of a process
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

async def main():
    db = Database(sys.argv[1], pool_size=1, max_overflow=0)  # one connection: the backend measured is the import's
    try:
        async with db.sessions() as s:
            backend = (await s.execute(text("select pg_backend_pid()"))).scalar()
        server = cpu(backend)
        t0 = time.perf_counter()
        report = await import_contacts(db, sys.argv[2], campaign=sys.argv[3], mapping="phone=Telefono,name=Cliente,email=Email")
        elapsed = time.perf_counter() - t0
        me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        print(json.dumps({**report.as_dict(), "problems": None, "timings": report.timings, "elapsed": elapsed,
                          "server_cpu": cpu(backend) - server, "import_cpu": me.ru_utime + me.ru_stime,
                          "stagers_cpu": children.ru_utime + children.ru_stime}))
    finally:
        await db.dispose()

asyncio.run(main())
"""


def python_only(csv_path: Path) -> float:
    from ari_app.services.contacts_import import (BATCH_ROWS, ImportReport, _collector_paused, parse_mapping,
                                                  read_table, stage_rows)

    # As import_contacts runs it: collector paused (with it running this took twice as long),
    # batches of BATCH_ROWS.
    with _collector_paused():
        t0 = time.perf_counter()
        table = read_table(csv_path, lazy=True)
        cols = parse_mapping("phone=Telefono,name=Cliente,email=Email", table)
        report = ImportReport(str(csv_path), "bench", table.encoding, ";", "IT", True)
        for _ in stage_rows(table, cols, "IT", report, chunk=BATCH_ROWS):
            pass
        return time.perf_counter() - t0


def _entries(url: str, campaign: str) -> int:
    """The entries of ``campaign``, which is created (empty, active) when it does not exist yet."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("insert into campaigns (name, mode, state, default_region) values (%s, 'progressive', "
                     "'active', 'IT') on conflict (name) do nothing", (campaign,))
        return conn.execute("select count(*) from campaign_entries e join campaigns c on c.id = e.campaign_id "
                            "where c.name = %s", (campaign,)).fetchone()[0]


def _busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (all cores; /proc/stat), to tell how much
    work an import was from how long it took."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def measure(url: str, csv_path: Path, campaign: str) -> tuple[float, float]:
    """(service rows/s, process rows/s) of one import in a process of its own."""
    import json
    import subprocess

    before = _entries(url, campaign)
    busy = _busy_seconds()
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _ONE_IMPORT, url, str(csv_path), campaign], check=True,
                          capture_output=True, text=True)
    wall = time.perf_counter() - t0
    busy = _busy_seconds() - busy
    d = json.loads(done.stdout.strip().splitlines()[-1])
    assert _entries(url, campaign) - before == d["imported"], (before, d["imported"])
    service, process = d["read"] / d["elapsed"], d["read"] / wall
    print(f"{campaign}: imported {d['imported']} (rejected {d['rejected']}, duplicates {d['duplicates']}, zone unknown "
          f"{d['timezone_unknown']}); service {d['elapsed']:.1f} s = {service:,.0f} rows/s, process {wall:.1f} s = "
          f"{process:,.0f} rows/s; CPU s: machine {busy:.1f} ({busy / wall:.2f} cores busy), server backend "
          f"{d['server_cpu']:.1f}, import process {d['import_cpu']:.1f}, its stagers {d['stagers_cpu']:.1f}; "
          f"phases (s): {d['timings']}", flush=True)
    return service, process


def measure_cli(url: str, csv_path: Path, campaign: str, rows: int) -> float:
    """rows/s of `dialer contacts import`, timed from outside."""
    import json
    import subprocess

    before = _entries(url, campaign)
    dialer = Path(sys.executable).with_name("dialer")
    t0 = time.perf_counter()
    done = subprocess.run([str(dialer), "contacts", "import", str(csv_path), "--campaign", campaign, "--map",
                           "phone=Telefono,name=Cliente,email=Email", "--json"], check=True, capture_output=True,
                          text=True, env={**os.environ, "DIALER_DATABASE_URL": url})
    wall = time.perf_counter() - t0
    imported = json.loads(done.stdout)["imported"]
    assert _entries(url, campaign) - before == imported
    print(f"{campaign}: `dialer contacts import` imported {imported} in {wall:.1f} s = {rows / wall:,.0f} rows/s",
          flush=True)
    return rows / wall


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5, help="Imports into new campaigns; the median is the figure.")
    ap.add_argument("--append", action="store_true",
                    help="Then import as many new numbers into a campaign that already has the first file's.")
    ap.add_argument("--keep", action="store_true", help="Keep the data directory.")
    args = ap.parse_args()

    import psycopg

    from ari_app.db.embedded import embedded_uri, stop_embedded
    from ari_app.db.migrate import upgrade

    base = os.environ.get("DIALER_DATA_DIR")
    if base:
        Path(base).mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="import-bench-", dir=base))
    try:
        csv_path = work / "contacts.csv"
        t0 = time.perf_counter()
        generate(csv_path, args.rows)
        print(f"generated {args.rows} rows ({csv_path.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - t0:.1f} s")
        server = embedded_uri(work / "db")
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute("create database bench")
        from urllib.parse import urlsplit

        url = urlsplit(server)._replace(path="/bench").geturl()
        upgrade(url)
        py = python_only(csv_path)
        print(f"python part alone, one process (decode + CSV + validation + COPY text): {py:.1f} s = "
              f"{args.rows / py:,.0f} rows/s")
        runs = [measure(url, csv_path, f"bench{i + 1}") for i in range(args.repeat)]
        for label, rates in (("service", [r[0] for r in runs]), ("process", [r[1] for r in runs])):
            print(f"IMPORT into a new campaign, {label}: {statistics.median(rates):,.0f} rows/s, median of {len(rates)} "
                  f"({', '.join(f'{r:,.0f}' for r in rates)})")
        measure_cli(url, csv_path, "bench-cli", args.rows)
        print(f"({os.cpu_count()} cores, load {os.getloadavg()[0]:.1f})")
        if args.append:
            more = work / "more.csv"
            generate(more, args.rows, seed=8)
            service, process = measure(url, more, f"bench{args.repeat}")
            print(f"IMPORT into a campaign that has {args.rows:,} entries: service {service:,.0f} rows/s, "
                  f"process {process:,.0f} rows/s")
        stop_embedded(work / "db")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
