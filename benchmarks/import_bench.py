"""Import benchmark: a 1 000 000-row CSV through the same service `dialer contacts import` uses.

    nice -n 10 .venv/bin/python benchmarks/import_bench.py [--rows 1000000] [--keep] [--breakdown]

Generates realistic rows (Italian numbers in national format, Polish ones as +48, names with
accents, two custom columns), starts an embedded PostgreSQL in a fresh directory (under
DIALER_DATA_DIR when set, else a temp dir), imports into a new campaign and prints rows/s, plus
the time spent in the pure-Python part (decode, CSV, phone validation) measured separately.

``--breakdown`` then measures the server's side alone: the imported rows are copied out and
COPYed again into a second campaign, once as the import writes them and once with each table's
secondary indexes dropped (each in a transaction that is rolled back, the table vacuumed after),
printing seconds and WAL megabytes per table. What it showed (2026-12-04, 1 000 000 rows): each
secondary index costs about 2 s and 95 MB of WAL per million rows; campaign_entries has four,
contact_phones two, so index upkeep is most of the server's time, and the server is the slower of
the two sides.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
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


async def run_import(url: str, csv_path: Path):
    from ari_app.db.runtime import Database
    from ari_app.services.contacts_import import import_contacts

    db = Database(url)
    try:
        t0 = time.perf_counter()
        report = await import_contacts(db, csv_path, campaign="bench", mapping="phone=Telefono,name=Cliente,email=Email")
        return report, time.perf_counter() - t0
    finally:
        await db.dispose()


def python_only(csv_path: Path) -> float:
    from ari_app.services.contacts_import import (BATCH_ROWS, ImportReport, _collector_paused, parse_mapping,
                                                  read_table, stage_rows)

    # As import_contacts runs it: collector paused (with it running this took twice as long),
    # batches of BATCH_ROWS.
    with _collector_paused():
        t0 = time.perf_counter()
        table = read_table(csv_path)
        cols = parse_mapping("phone=Telefono,name=Cliente,email=Email", table)
        report = ImportReport(str(csv_path), "bench", table.encoding, ";", "IT", True)
        for _ in stage_rows(table, cols, "IT", report, chunk=BATCH_ROWS):
            pass
        return time.perf_counter() - t0


def server_breakdown(url: str) -> None:
    """The COPYs of the import, timed on the server alone, with and without secondary indexes."""
    import psycopg

    with psycopg.connect(url) as conn:
        cur = conn.cursor()

        def dump(sql: str) -> bytes:
            out = bytearray()
            with cur.copy(f"copy ({sql}) to stdout") as cp:
                for block in cp:
                    out += block
            return bytes(out)

        entries = dump("select contact_id, phone_e164, timezone from campaign_entries order by phone_e164")
        phones = dump("select contact_id, e164, raw, position from contact_phones order by e164")
        contacts = dump("select id + (select max(id) from contacts), name, email, custom, timezone, "
                        "timezone_override from contacts order by id")
        conn.rollback()
        cid = cur.execute("insert into campaigns (name, mode, state) values ('bench-breakdown', 'progressive', "
                          "'active') returning id").fetchone()[0]
        conn.commit()
        entries = b"".join(b"%d\t%s\n" % (cid, line) for line in entries.splitlines())
        secondary = {
            "campaign_entries": ["alter table campaign_entries drop constraint uq_entry_campaign_phone",
                                 "drop index ix_entries_claim", "drop index ix_entries_contact",
                                 "drop index ix_entries_phone"],
            "contact_phones": ["drop index ix_contact_phones_e164", "drop index ix_contact_phones_contact_id"],
            "contacts": None,  # its primary key only
        }
        jobs = [("campaign_entries", "(campaign_id, contact_id, phone_e164, timezone)", entries),
                ("contact_phones", "(contact_id, e164, raw, position)", phones),
                ("contacts", "(id, name, email, custom, timezone, timezone_override)", contacts)]
        for table, cols, data in jobs:
            variants = [("as imported", [])]
            if secondary[table]:
                variants.append(("no secondary index", secondary[table]))
            for label, setup in variants:
                cur.execute("set local session_replication_role = replica")
                for sql in setup:
                    cur.execute(sql)
                lsn = cur.execute("select pg_current_wal_insert_lsn()").fetchone()[0]
                t0 = time.perf_counter()
                with cur.copy(f"copy {table} {cols} from stdin") as cp:
                    cp.write(data)
                seconds = time.perf_counter() - t0
                wal = cur.execute("select pg_wal_lsn_diff(pg_current_wal_insert_lsn(), %s)", [lsn]).fetchone()[0]
                conn.rollback()
                conn.autocommit = True
                cur.execute(f"vacuum {table}")
                conn.autocommit = False
                print(f"server COPY {table} {label}: {seconds:.2f} s, WAL {float(wal) / 1e6:.0f} MB")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--keep", action="store_true", help="Keep the data directory.")
    ap.add_argument("--breakdown", action="store_true",
                    help="Then time the server's COPYs alone, with and without secondary indexes.")
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
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("insert into campaigns (name, mode, state, default_region) values ('bench', 'progressive', "
                         "'active', 'IT')")
        py = python_only(csv_path)
        print(f"python part alone (decode + CSV + validation + COPY text): {py:.1f} s = {args.rows / py:,.0f} rows/s")
        report, elapsed = asyncio.run(run_import(url, csv_path))
        d = report.as_dict()
        print(f"imported {d['imported']} (rejected {d['rejected']}, duplicates {d['duplicates']}, "
              f"zone unknown {d['timezone_unknown']}) in {elapsed:.1f} s")
        print("phases (s):", report.timings)
        print(f"IMPORT: {d['read'] / elapsed:,.0f} rows/s ({os.cpu_count()} cores, load {os.getloadavg()[0]:.1f})")
        with psycopg.connect(url) as conn:
            n = conn.execute("select count(*) from campaign_entries").fetchone()[0]
        assert n == d["imported"], (n, d["imported"])
        if args.breakdown:
            server_breakdown(url)
        stop_embedded(work / "db")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
