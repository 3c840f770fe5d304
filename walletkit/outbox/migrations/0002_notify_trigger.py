"""Wake the relay from the database: a statement trigger NOTIFYs on every insert of outbox rows.

The NOTIFY used to be a separate ``SELECT pg_notify`` after each outbox insert — one more round trip
per event in every service. A trigger sends it in the same statement; PostgreSQL delivers it at
COMMIT and coalesces duplicates within a transaction, as before. (A republish, which marks rows
unpublished, still NOTIFYs by itself: the relay's own "published" updates must not wake it.)
"""

from django.db import migrations

CREATE = """
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('outbox', '');
    RETURN NULL;
END $$;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox_event
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
"""
DROP = "DROP TRIGGER outbox_notify ON outbox_event; DROP FUNCTION outbox_notify();"


class Migration(migrations.Migration):
    dependencies = [("outbox", "0001_initial")]

    operations = [migrations.RunSQL(CREATE, DROP)]
