"""The partitioned tables of migration 0005: campaign_entries (one table per campaign) and
contacts (contacts_main, and one contact list per big import).

Whatever writes a campaign's first entries makes its partition first:

* :func:`ensure_entries_partition` for ordinary writes (a move into the campaign, adding contacts
  by filter, a clone): an empty table, attached at once, with its indexes and row triggers.
* :class:`FreshPartition` for a bulk import into a campaign that has no partition yet: the rows go
  into a table nobody else can see yet, its indexes are built once, a sort each (not updated row
  by row, which was most of an import's time) and it is attached at the end, in the
  import's transaction, so nothing is half-written. On a server with ``wal_level = minimal`` (the
  embedded one) the rows of a table created in the same transaction are not written to the WAL
  either. Attaching takes SHARE UPDATE EXCLUSIVE on campaign_entries: the dialer's reads and
  writes of other campaigns go on.

Both run under the campaign's advisory lock (contacts_import.find_campaign(lock=True) or the SQL
function itself), so two sessions never make one campaign's partition.

A big import's contacts go to a :class:`ContactList`: a contacts partition of its own, created in
the import's transaction (no WAL for its rows either), whose id range [k * 2^32, (k + 1) * 2^32)
is the import's, so its ids need no sequence.
"""
from __future__ import annotations

import re

from sqlalchemy import text

PARENT = "campaign_entries"
LIST_SPAN = 2 ** 32  # ids of one contact list (migration 0005)


# The partitions themselves: the ORM and the migrations describe the partitioned tables only.
_PARTITION = re.compile(r"(campaign_entries_\d+|contacts_main|contacts_list_\d+)")


def is_partition(table_name: str) -> bool:
    return _PARTITION.fullmatch(table_name) is not None


def partition_name(campaign_id: int) -> str:
    return f"{PARENT}_{int(campaign_id)}"


async def ensure_entries_partition(session, campaign_id: int) -> None:
    """Make campaign ``campaign_id``'s partition if it has none (a no-op otherwise)."""
    await session.execute(text("select dialer_entries_partition(:cid)"), {"cid": campaign_id})


async def may_create_partitions(session) -> bool:
    """Whether this role may make and attach partitions itself (it owns the tables, or is a
    superuser): a role that may only read and write rows imports through the attached partition
    that ``dialer_entries_partition`` (security definer) makes."""
    return bool((await session.execute(text(
        "select bool_and(pg_has_role(c.relowner, 'USAGE') and has_schema_privilege(c.relnamespace, 'CREATE')) "
        "from pg_class c where c.oid in (cast(:entries as regclass), cast('contacts' as regclass))"),
        {"entries": PARENT})).scalar())


async def has_partition(session, campaign_id: int) -> bool:
    return bool((await session.execute(text(
        "select exists (select 1 from pg_inherits i join pg_class c on c.oid = i.inhrelid "
        "where i.inhparent = cast(:parent as regclass) and c.relname = :name)"),
        {"parent": PARENT, "name": partition_name(campaign_id)})).scalar())


class FreshPartition:
    """A campaign's partition written in bulk before it is attached (see the module's docstring).

    ``create`` makes the empty table with the campaign CHECK (so attaching needs no scan).
    ``attach`` adds the parent's keys and indexes, built from the rows, and attaches the table
    (which gives it the parent's row triggers). The definitions are read from the parent, so they
    cannot drift from the migrations. campaign_entries has no foreign keys (migration 0005): adding
    one here would lock campaigns, contacts and agents against writes until the import commits.
    """

    def __init__(self, campaign_id: int):
        self.campaign_id = int(campaign_id)
        self.name = partition_name(campaign_id)

    async def create(self, session) -> None:
        await _ddl(session, f'create table "{self.name}" (like {PARENT} including defaults including generated)')
        await _ddl(session, f'alter table "{self.name}" add constraint "{self.name}_campaign" '
                            f'check (campaign_id = {self.campaign_id})')

    async def attach(self, session) -> None:
        for definition in await self._constraints(session, "p", "u"):
            await _ddl(session, f'alter table "{self.name}" add {definition}')
        indexes = (await session.execute(text(
            "select pg_get_indexdef(i.indexrelid) from pg_index i "
            "left join pg_constraint c on c.conindid = i.indexrelid "
            "where i.indrelid = cast(:parent as regclass) and c.oid is null order by i.indexrelid"),
            {"parent": PARENT})).scalars().all()
        for definition in indexes:
            # CREATE INDEX ix_entries_claim ON ONLY public.campaign_entries USING btree (...) WHERE ...
            body = re.sub(r"^CREATE (UNIQUE )?INDEX \S+ ON ONLY \S+ ", "", definition)
            unique = "unique " if definition.startswith("CREATE UNIQUE") else ""
            await _ddl(session, f'create {unique}index on "{self.name}" {body}')
        await _ddl(session, f'alter table {PARENT} attach partition "{self.name}" for values in ({self.campaign_id})')

    async def _constraints(self, session, *kinds: str) -> list[str]:
        return list((await session.execute(text(
            "select pg_get_constraintdef(oid) from pg_constraint "
            "where conrelid = cast(:parent as regclass) and contype = any(:kinds) order by oid"),
            {"parent": PARENT, "kinds": list(kinds)})).scalars())


class ContactList:
    """A contacts partition for one import: ``create`` takes the next list number k and makes the
    table with its id range CHECKed (so attaching needs no scan) and its primary key; ``attach``
    attaches it (SHARE UPDATE EXCLUSIVE on contacts until commit: another attach waits, the dialer
    does not). An import that checks its entries' references row by row attaches it first, so the
    checks find its rows; one that may skip them attaches it last. Its ids are ``ids``: the import
    assigns them in file order, from the start of the range."""

    def __init__(self) -> None:
        self.name = ""
        self.ids: range = range(0)

    async def create(self, session) -> None:
        number = (await session.execute(text("select nextval('contact_lists_id_seq')"))).scalar_one()
        low, high = number * LIST_SPAN, (number + 1) * LIST_SPAN
        self.name, self.ids = f"contacts_list_{number}", range(low, high)
        await _ddl(session, f'create table "{self.name}" (like contacts including defaults)')
        await _ddl(session, f'alter table "{self.name}" add constraint "{self.name}_range" '
                            f'check (id >= {low} and id < {high}), add primary key (id)')

    async def attach(self, session) -> None:
        await _ddl(session, f'alter table contacts attach partition "{self.name}" '
                            f'for values from ({self.ids.start}) to ({self.ids.stop})')


async def _ddl(session, statement: str) -> None:
    """A statement built from catalog definitions: sent as it is (no bind-parameter parsing of
    its ``::`` casts)."""
    await (await session.connection()).exec_driver_sql(statement)
