"""campaign entries partitioned by campaign, contacts by id range; a contact's numbers on the contact

Why (benchmarks/import_bench.py, 1 000 000 rows): the import's COPY into campaign_entries spent
13-15 s maintaining five indexes row by row against 1.2 s for the rows themselves; contact_phones
took another 7 s and contacts 3-4 s. Now a big import writes tables of its own, created in its
transaction: their indexes are built once, sorted, and on a server with wal_level = minimal (the
embedded one) their rows skip the WAL. See ari_app/db/partitions.py.

* campaign_entries is partitioned by LIST (campaign_id); a campaign's partition
  (campaign_entries_<id>) is made by ``dialer_entries_partition(id)`` when its first entry is
  written. Keys that include the partition key: primary key (id, campaign_id), unique
  (phone_e164, campaign_id), which also serves lookups by number alone (ix_entries_phone is gone).
  The claim index leaves the campaign out: each partition has its own.
* contacts is partitioned by RANGE (id): contacts_main holds ids below 2^32 (the contacts_id_seq
  sequence, for contacts written one by one or by small imports), and each big import gets a
  contact list of its own, ids [k * 2^32, (k + 1) * 2^32) with k from contact_lists_id_seq.
* The foreign keys of and into campaign_entries become triggers that do what they did:
  - attempts.entry_id and callbacks.entry_id cannot reference a partitioned table's id alone: an
    insert must name an existing entry (locked FOR KEY SHARE, as the foreign key did), and
    deleting entries sets attempts.entry_id to NULL (the ledger row stays) and deletes their
    callbacks. Moving an entry (an UPDATE of its campaign) is not a delete: its history follows it.
  - campaign_entries' own references (campaign, contact, owner agent, last status): adding a
    foreign key to a new partition locks the referenced tables (SHARE ROW EXCLUSIVE) until the
    import commits, which would stop the dialer's writes to campaigns and agents for the length
    of a big import, and checking it at attach time joins the whole contact directory. A row
    trigger checks and locks the referenced rows on insert and on a change of those columns, and
    deleting a campaign or contact deletes its entries, deleting an agent or status clears them.
* contacts.phones: the contact's numbers in E.164, the first is the one its entries dial.

Revision ID: 0005
Revises: 0004
"""
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ENTRIES_LOCK = 0x454E5452  # the advisory lock class of writers of one campaign's entries (contacts_import)
LIST_SPAN = 2 ** 32  # ids of one contact list; contacts_main holds those below it

CREATE_CONTACTS = f"""
create table contacts (
  id bigint not null default nextval('contacts_id_seq'),
  name text,
  email text,
  custom jsonb not null default '{{}}',
  timezone text,
  timezone_override boolean not null default false,
  created_at timestamptz not null default now(),
  phones text[] not null default '{{}}',
  constraint contacts_pkey primary key (id)
) partition by range (id);
create table contacts_main partition of contacts for values from (minvalue) to ({LIST_SPAN});
create sequence contact_lists_id_seq;
"""

CREATE_ENTRIES = """
create table campaign_entries (
  id bigint not null default nextval('campaign_entries_id_seq'),
  campaign_id integer not null,
  contact_id bigint not null,
  phone_e164 text not null,
  timezone text,
  state text not null default 'ready',
  attempts integer not null default 0,
  next_attempt_at timestamptz,
  not_before timestamptz,
  due_at timestamptz not null generated always as
    (greatest(coalesce(next_attempt_at, '-infinity'), coalesce(not_before, '-infinity'))) stored,
  owner_agent_id integer,
  last_outcome text,
  last_status_id integer,
  priority integer not null default 0,
  progressive_only boolean not null default false,
  lease_owner text,
  lease_until timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint campaign_entries_pkey primary key (id, campaign_id),
  constraint uq_entry_phone_campaign unique (phone_e164, campaign_id)
) partition by list (campaign_id);
-- one per partition, so without campaign_id: the claim's campaign condition picks the partition
create index ix_entries_claim on campaign_entries (timezone, priority desc, due_at, id) where state = 'ready';
create index ix_entries_contact on campaign_entries (contact_id);
"""

PARTITION_FUNCTION = f"""
create function dialer_entries_partition(cid integer) returns regclass language plpgsql
  -- as the tables' owner: a role that may only read and write rows still gets its partitions
  security definer set search_path from current as $$
declare
  part text := 'campaign_entries_' || cid;
begin
  if not exists (select 1 from campaigns where id = cid) then
    raise foreign_key_violation using message = format('campaign %s does not exist', cid);
  end if;
  -- Writers of one campaign's entries share this lock (contacts_import.ENTRIES_LOCK), so two
  -- sessions never both create the partition; read committed: the check below sees one that a
  -- session holding the lock before us committed.
  perform pg_advisory_xact_lock({ENTRIES_LOCK}, cid);
  if exists (select 1 from pg_inherits i join pg_class c on c.oid = i.inhrelid
              where i.inhparent = 'campaign_entries'::regclass and c.relname = part) then
    return part::regclass;
  end if;
  -- LIKE + ATTACH, not CREATE TABLE ... PARTITION OF: attaching takes SHARE UPDATE EXCLUSIVE on
  -- campaign_entries, which the dialer's reads and writes do not wait for; PARTITION OF would take
  -- ACCESS EXCLUSIVE until commit. The empty table's indexes and foreign keys come with the attach.
  execute format('create table %I (like campaign_entries including defaults including generated)', part);
  execute format('alter table %I add constraint %I check (campaign_id = %s)', part, part || '_campaign', cid);
  execute format('alter table campaign_entries attach partition %I for values in (%s)', part, cid);
  return part::regclass;
end $$;
"""

# campaign_entries' references: (column, table, what the error calls it, nullable)
REFERENCES = (("campaign_id", "campaigns", "campaign", False), ("contact_id", "contacts", "contact", False),
              ("owner_agent_id", "agents", "agent", True), ("last_status_id", "campaign_statuses", "campaign status", True))


def _check(column: str, table: str, name: str, nullable: bool) -> str:
    changed = f"(tg_op = 'INSERT' or new.{column} is distinct from old.{column})"
    return f"""
  if {f"new.{column} is not null and " if nullable else ""}{changed} then
    perform 1 from {table} where id = new.{column} for key share;
    if not found then
      raise foreign_key_violation using message = format('{name} %s does not exist', new.{column});
    end if;
  end if;"""


REFERENCES_FUNCTION = ("create function campaign_entries_references() returns trigger language plpgsql as $$\nbegin"
                       + "".join(_check(*r) for r in REFERENCES) + "\n  return new;\nend $$;")

ENTRY_TRIGGERS = f"""
create function campaign_entries_deleted() returns trigger language plpgsql as $$
begin
  -- what the foreign keys from attempts (on delete set null) and callbacks (cascade) did
  update attempts a set entry_id = null from old_rows o where a.entry_id = o.id;
  delete from callbacks cb using old_rows o where cb.entry_id = o.id;
  return null;
end $$;
create trigger campaign_entries_deleted after delete on campaign_entries
  referencing old table as old_rows for each statement execute function campaign_entries_deleted();

create function entry_reference_check() returns trigger language plpgsql as $$
begin
  if new.entry_id is null or (tg_op = 'UPDATE' and new.entry_id is not distinct from old.entry_id) then
    return new;
  end if;
  -- the row's own campaign first: one partition; an entry moved since is found by id alone
  perform 1 from campaign_entries where id = new.entry_id and campaign_id = new.campaign_id for key share;
  if not found then
    perform 1 from campaign_entries where id = new.entry_id for key share;
  end if;
  if not found then
    raise foreign_key_violation using message = format(
      'insert or update on table "%s" violates the entry reference: campaign entry %s does not exist',
      tg_table_name, new.entry_id);
  end if;
  return new;
end $$;
create trigger attempts_entry_reference before insert or update of entry_id on attempts
  for each row execute function entry_reference_check();
create trigger callbacks_entry_reference before insert or update of entry_id on callbacks
  for each row execute function entry_reference_check();

{REFERENCES_FUNCTION}
create trigger campaign_entries_references
  before insert or update of campaign_id, contact_id, owner_agent_id, last_status_id on campaign_entries
  for each row execute function campaign_entries_references();

create function entries_owner_deleted() returns trigger language plpgsql as $$
begin
  -- what the foreign keys of campaign_entries did when a referenced row was deleted
  if tg_table_name = 'campaigns' then
    delete from campaign_entries e using old_rows o where e.campaign_id = o.id;
  elsif tg_table_name = 'contacts' then
    delete from campaign_entries e using old_rows o where e.contact_id = o.id;
  elsif tg_table_name = 'agents' then
    update campaign_entries e set owner_agent_id = null from old_rows o where e.owner_agent_id = o.id;
  else
    update campaign_entries e set last_status_id = null from old_rows o where e.last_status_id = o.id;
  end if;
  return null;
end $$;
create trigger campaigns_entries_deleted after delete on campaigns
  referencing old table as old_rows for each statement execute function entries_owner_deleted();
create trigger contacts_entries_deleted after delete on contacts
  referencing old table as old_rows for each statement execute function entries_owner_deleted();
create trigger agents_entries_cleared after delete on agents
  referencing old table as old_rows for each statement execute function entries_owner_deleted();
create trigger campaign_statuses_entries_cleared after delete on campaign_statuses
  referencing old table as old_rows for each statement execute function entries_owner_deleted();
"""

ENTRY_COLUMNS = ("id, campaign_id, contact_id, phone_e164, timezone, state, attempts, next_attempt_at, not_before, "
                 "owner_agent_id, last_outcome, last_status_id, priority, progressive_only, lease_owner, lease_until, "
                 "created_at, updated_at")
CONTACT_COLUMNS = "id, name, email, custom, timezone, timezone_override, created_at"


def upgrade() -> None:
    # Foreign keys into the tables that become partitioned go first; triggers take their place.
    op.execute("alter table attempts drop constraint attempts_entry_id_fkey")
    op.execute("alter table callbacks drop constraint callbacks_entry_id_fkey")
    op.execute("alter table campaign_entries drop constraint campaign_entries_contact_id_fkey")
    op.execute("alter table contact_phones drop constraint contact_phones_contact_id_fkey")

    op.execute("alter table contacts rename to contacts_unpartitioned")
    op.execute("alter table contacts_unpartitioned rename constraint contacts_pkey to contacts_unpartitioned_pkey")
    op.execute(CREATE_CONTACTS)
    op.execute("alter table contacts_unpartitioned alter column id drop default")
    op.execute(f"alter sequence contacts_id_seq owned by contacts.id maxvalue {LIST_SPAN - 1}")
    # A contact's numbers, first the one its entries dial.
    op.execute(f"""
        insert into contacts ({CONTACT_COLUMNS}, phones)
        select {', '.join('c.' + c.strip() for c in CONTACT_COLUMNS.split(','))},
               coalesce((select array_agg(p.e164 order by p.position, p.id) from contact_phones p
                          where p.contact_id = c.id), '{{}}')
          from contacts_unpartitioned c""")
    op.execute("drop table contact_phones")
    op.execute("drop table contacts_unpartitioned")

    op.execute("alter table campaign_entries rename to campaign_entries_unpartitioned")
    op.execute("alter table campaign_entries_unpartitioned rename constraint campaign_entries_pkey "
               "to campaign_entries_unpartitioned_pkey")
    for name in ("ix_entries_claim", "ix_entries_contact", "ix_entries_phone"):
        op.execute(f"drop index {name}")
    op.execute("alter table campaign_entries_unpartitioned drop constraint uq_entry_campaign_phone")
    for fk in ("campaign_id", "last_status_id", "owner_agent_id"):
        op.execute(f"alter table campaign_entries_unpartitioned drop constraint campaign_entries_{fk}_fkey")
    op.execute(CREATE_ENTRIES)
    op.execute("alter table campaign_entries_unpartitioned alter column id drop default")
    op.execute("alter sequence campaign_entries_id_seq owned by campaign_entries.id")
    op.execute(PARTITION_FUNCTION)
    op.execute("select dialer_entries_partition(campaign_id) "
               "from (select distinct campaign_id from campaign_entries_unpartitioned) c")
    op.execute(f"insert into campaign_entries ({ENTRY_COLUMNS}) "
               f"select {ENTRY_COLUMNS} from campaign_entries_unpartitioned")
    op.execute("drop table campaign_entries_unpartitioned")
    op.execute(ENTRY_TRIGGERS)


def downgrade() -> None:
    op.execute("drop trigger callbacks_entry_reference on callbacks")
    op.execute("drop trigger attempts_entry_reference on attempts")
    op.execute("drop function entry_reference_check()")
    for table, trigger in (("campaigns", "campaigns_entries_deleted"), ("contacts", "contacts_entries_deleted"),
                           ("agents", "agents_entries_cleared"), ("campaign_statuses", "campaign_statuses_entries_cleared")):
        op.execute(f"drop trigger {trigger} on {table}")
    op.execute("drop function entries_owner_deleted()")
    op.execute("alter table campaign_entries rename to campaign_entries_partitioned")
    for name in ("campaign_entries_pkey", "uq_entry_phone_campaign"):
        op.execute(f"alter table campaign_entries_partitioned rename constraint {name} to {name}_partitioned")
    op.execute("alter index ix_entries_claim rename to ix_entries_claim_partitioned")
    op.execute("alter index ix_entries_contact rename to ix_entries_contact_partitioned")
    op.execute("alter table contacts rename to contacts_partitioned")
    op.execute("alter table contacts_partitioned rename constraint contacts_pkey to contacts_partitioned_pkey")
    op.execute(f"""
        create table contacts (like contacts_partitioned including defaults);
        alter table contacts add constraint contacts_pkey primary key (id);
        insert into contacts ({CONTACT_COLUMNS}, phones) select {CONTACT_COLUMNS}, phones from contacts_partitioned;
        alter sequence contacts_id_seq owned by contacts.id no maxvalue;
        create table contact_phones (
          id bigserial primary key,
          contact_id bigint not null constraint contact_phones_contact_id_fkey references contacts (id) on delete cascade,
          e164 text not null,
          raw text,
          position integer not null default 0);
        create index ix_contact_phones_contact_id on contact_phones (contact_id);
        create index ix_contact_phones_e164 on contact_phones (e164);
        insert into contact_phones (contact_id, e164, position)
          select c.id, p.e164, p.ord - 1 from contacts c, unnest(c.phones) with ordinality as p(e164, ord);
        alter table contacts drop column phones;

        create table campaign_entries (like campaign_entries_partitioned including defaults including generated);
        alter table campaign_entries add constraint campaign_entries_pkey primary key (id),
          add constraint uq_entry_campaign_phone unique (campaign_id, phone_e164),
          add constraint campaign_entries_campaign_id_fkey foreign key (campaign_id) references campaigns (id) on delete cascade,
          add constraint campaign_entries_contact_id_fkey foreign key (contact_id) references contacts (id) on delete cascade,
          add constraint campaign_entries_last_status_id_fkey foreign key (last_status_id)
            references campaign_statuses (id) on delete set null,
          add constraint campaign_entries_owner_agent_id_fkey foreign key (owner_agent_id) references agents (id) on delete set null;
        insert into campaign_entries ({ENTRY_COLUMNS}) select {ENTRY_COLUMNS} from campaign_entries_partitioned;
        alter sequence campaign_entries_id_seq owned by campaign_entries.id;
        drop table campaign_entries_partitioned cascade;
        drop table contacts_partitioned cascade;
        drop sequence contact_lists_id_seq;
        drop function campaign_entries_deleted();
        drop function campaign_entries_references();
        drop function dialer_entries_partition(integer);
        create index ix_entries_claim on campaign_entries (campaign_id, timezone, priority desc, due_at, id)
          where state = 'ready';
        create index ix_entries_contact on campaign_entries (contact_id);
        create index ix_entries_phone on campaign_entries (phone_e164);
        alter table attempts add constraint attempts_entry_id_fkey foreign key (entry_id)
          references campaign_entries (id) on delete set null;
        alter table callbacks add constraint callbacks_entry_id_fkey foreign key (entry_id)
          references campaign_entries (id) on delete cascade;
    """)
