"""Helpers for the contact tests: campaigns in plain SQL, row counts, the CSV corpus."""
from __future__ import annotations

from pathlib import Path

import pytest

CORPUS = Path(__file__).resolve().parent.parent / "fixtures" / "csv"


@pytest.fixture
def corpus() -> Path:
    return CORPUS


@pytest.fixture
def make_campaign(sql):
    def make(name: str = "c1", state: str = "draft", region: str = "IT") -> int:
        return sql("insert into campaigns (name, mode, state, default_region) values (%s, 'progressive', %s, %s) "
                   "returning id", (name, state, region))[0]["id"]

    return make


@pytest.fixture
def counts(sql):
    """Rows in the tables an import writes to."""

    def count() -> dict[str, int]:
        return {t: sql(f"select count(*) as n from {t}")[0]["n"]
                for t in ("contacts", "campaign_entries", "dnc_numbers")}

    return count
