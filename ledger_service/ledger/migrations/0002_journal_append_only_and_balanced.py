"""The journal's rules, enforced by PostgreSQL itself so no code path (or psql session) can break them.

- Append-only: UPDATE, DELETE and TRUNCATE of entries, postings and rejections raise.
- Balanced: at COMMIT (deferred, so an entry's postings can be inserted one by one) every
  entry's postings sum to zero per currency, number at least two, and match their account's currency.
"""

from django.db import migrations

JOURNAL_TABLES = ("ledger_journal_entry", "ledger_posting", "ledger_rejection")

APPEND_ONLY_FUNCTION = """
CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger journal is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END;
$$;
"""

BALANCED_FUNCTIONS = """
CREATE FUNCTION ledger_posting_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    unbalanced text;
BEGIN
    IF NEW.currency <> (SELECT currency FROM ledger_account WHERE id = NEW.account_id) THEN
        RAISE EXCEPTION 'posting % in % on an account of another currency', NEW.id, NEW.currency
            USING ERRCODE = 'check_violation';
    END IF;
    SELECT string_agg(currency || ' ' || total::text, ', ') INTO unbalanced
    FROM (SELECT currency, sum(amount) AS total FROM ledger_posting
          WHERE entry_id = NEW.entry_id GROUP BY currency HAVING sum(amount) <> 0) AS sums;
    IF unbalanced IS NOT NULL THEN
        RAISE EXCEPTION 'journal entry % does not balance: %', NEW.entry_id, unbalanced
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$;

CREATE FUNCTION ledger_entry_has_postings() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT count(*) FROM ledger_posting WHERE entry_id = NEW.id) < 2 THEN
        RAISE EXCEPTION 'journal entry % has fewer than two postings', NEW.id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$;

CREATE CONSTRAINT TRIGGER ledger_posting_balanced AFTER INSERT ON ledger_posting
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_posting_balanced();
CREATE CONSTRAINT TRIGGER ledger_entry_has_postings AFTER INSERT ON ledger_journal_entry
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_entry_has_postings();
"""


def _append_only_triggers() -> str:
    return "".join(
        f"""
CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
"""
        for table in JOURNAL_TABLES
    )


def _drop() -> str:
    triggers = "".join(
        f"DROP TRIGGER {table}_no_change ON {table}; DROP TRIGGER {table}_no_truncate ON {table};"
        for table in JOURNAL_TABLES
    )
    return (
        triggers
        + "DROP TRIGGER ledger_posting_balanced ON ledger_posting;"
        + "DROP TRIGGER ledger_entry_has_postings ON ledger_journal_entry;"
        + "DROP FUNCTION ledger_append_only(); DROP FUNCTION ledger_posting_balanced();"
        + "DROP FUNCTION ledger_entry_has_postings();"
    )


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]

    operations = [
        migrations.RunSQL(sql=APPEND_ONLY_FUNCTION + _append_only_triggers() + BALANCED_FUNCTIONS, reverse_sql=_drop()),
    ]
