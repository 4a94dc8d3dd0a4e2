# Each ESIID's newest interval start, kept by statement triggers on smt_interval (PostgreSQL only)
# like the day rollup of 0007: the smt-data monitor reads one small row per ESIID instead of
# probing the interval index once per ESIID. Every write path (COPY, upsert, audited deletions,
# raw SQL, TRUNCATE) goes through the triggers in the writing statement's own transaction; the
# one path they cannot see, dropping a whole partition, calls smt_interval_newest_recompute
# itself (smt.partitions.intervals_prune). SQLite keeps the plain max(ts) query (a no-op there).

from django.db import migrations

CREATE = """
CREATE TABLE smt_interval_newest (
    esiid varchar(22) PRIMARY KEY,
    ts timestamptz NOT NULL
);

-- The newest interval of each given ESIID, read again from smt_interval (one backward probe of
-- the (esiid, ts) index per partition); an ESIID with no interval left loses its row.
CREATE FUNCTION smt_interval_newest_recompute(esiids varchar[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    WITH found AS (
        SELECT e.esiid, (SELECT max(i.ts) FROM smt_interval i WHERE i.esiid = e.esiid) AS ts
        FROM (SELECT DISTINCT unnest(esiids) AS esiid) e
    ), kept AS (
        INSERT INTO smt_interval_newest AS n (esiid, ts)
        SELECT esiid, ts FROM found WHERE ts IS NOT NULL ORDER BY esiid
        ON CONFLICT (esiid) DO UPDATE SET ts = EXCLUDED.ts
    )
    DELETE FROM smt_interval_newest n USING found f WHERE n.esiid = f.esiid AND f.ts IS NULL;
END $$;

-- Added rows only ever move an ESIID's newest forward: GREATEST, written only when it changes
-- (a re-ingest of the same days leaves no dead row behind). ORDER BY: concurrent ingests lock
-- the rows in one order, so they wait for each other instead of deadlocking.
CREATE FUNCTION smt_interval_newest_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO smt_interval_newest AS n (esiid, ts)
    SELECT esiid, max(ts) FROM added GROUP BY esiid ORDER BY esiid
    ON CONFLICT (esiid) DO UPDATE SET ts = EXCLUDED.ts WHERE EXCLUDED.ts > n.ts;
    RETURN NULL;
END $$;

-- Only the ESIIDs whose newest interval was among the removed rows are read again.
CREATE FUNCTION smt_interval_newest_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM smt_interval_newest_recompute(ARRAY(
        SELECT r.esiid FROM (SELECT esiid, max(ts) AS ts FROM removed GROUP BY esiid) r
        JOIN smt_interval_newest n ON n.esiid = r.esiid AND r.ts >= n.ts ORDER BY 1));
    RETURN NULL;
END $$;

-- An UPDATE (a revision, or a raw statement moving ts or esiid): the new rows as added, then the
-- ESIIDs whose newest row was updated and whose new rows do not reach that time any more. A
-- revision that keeps ts (the common case) reads nothing again.
CREATE FUNCTION smt_interval_newest_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO smt_interval_newest AS n (esiid, ts)
    SELECT esiid, max(ts) FROM added GROUP BY esiid ORDER BY esiid
    ON CONFLICT (esiid) DO UPDATE SET ts = EXCLUDED.ts WHERE EXCLUDED.ts > n.ts;
    PERFORM smt_interval_newest_recompute(ARRAY(
        SELECT r.esiid FROM (SELECT esiid, max(ts) AS ts FROM removed GROUP BY esiid) r
        JOIN smt_interval_newest n ON n.esiid = r.esiid AND r.ts >= n.ts
        LEFT JOIN (SELECT esiid, max(ts) AS ts FROM added GROUP BY esiid) a ON a.esiid = r.esiid
        WHERE a.ts IS NULL OR a.ts < n.ts ORDER BY 1));
    RETURN NULL;
END $$;

CREATE FUNCTION smt_interval_newest_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE smt_interval_newest;
    RETURN NULL;
END $$;

CREATE TRIGGER smt_interval_newest_insert AFTER INSERT ON smt_interval
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION smt_interval_newest_added();
CREATE TRIGGER smt_interval_newest_update AFTER UPDATE ON smt_interval
    REFERENCING OLD TABLE AS removed NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION smt_interval_newest_updated();
CREATE TRIGGER smt_interval_newest_delete AFTER DELETE ON smt_interval
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION smt_interval_newest_removed();
CREATE TRIGGER smt_interval_newest_truncate AFTER TRUNCATE ON smt_interval
    FOR EACH STATEMENT EXECUTE FUNCTION smt_interval_newest_truncated();

INSERT INTO smt_interval_newest (esiid, ts) SELECT esiid, max(ts) FROM smt_interval GROUP BY esiid;
"""

DROP = """
DROP TRIGGER smt_interval_newest_insert ON smt_interval;
DROP TRIGGER smt_interval_newest_update ON smt_interval;
DROP TRIGGER smt_interval_newest_delete ON smt_interval;
DROP TRIGGER smt_interval_newest_truncate ON smt_interval;
DROP FUNCTION smt_interval_newest_added(), smt_interval_newest_removed(), smt_interval_newest_updated(),
    smt_interval_newest_truncated(), smt_interval_newest_recompute(varchar[]);
DROP TABLE smt_interval_newest;
"""


def run(sql: str):
    def apply(apps, schema_editor) -> None:
        if schema_editor.connection.vendor == "postgresql":  # the embedded SQLite path reads max(ts) directly
            schema_editor.execute(sql)

    return apply


class Migration(migrations.Migration):
    dependencies = [("smt", "0013_verbose_names")]
    operations = [migrations.RunPython(run(CREATE), run(DROP))]
