# Per-day interval totals kept by statement triggers on smt_interval (PostgreSQL only): every
# write path (the ingest's COPY and upsert, audited deletions, raw SQL, TRUNCATE) goes through
# them, in the writing statement's own transaction, so the totals cannot drift from the rows.

from django.db import migrations

TZ = "America/Chicago"  # smt.parser.CENTRAL: the local day of the daily summary

CREATE = f"""
CREATE TABLE smt_interval_day (
    esiid varchar(22) NOT NULL,
    meter varchar(64) NOT NULL,
    channel varchar(12) NOT NULL,
    day date NOT NULL,
    found integer NOT NULL,
    kwh numeric NOT NULL,
    estimated integer NOT NULL,
    PRIMARY KEY (esiid, meter, channel, day)
);
CREATE INDEX smt_interval_day_esiid_day ON smt_interval_day (esiid, day) INCLUDE (channel, found, kwh, estimated, meter);

CREATE FUNCTION smt_interval_day_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO smt_interval_day AS d (esiid, meter, channel, day, found, kwh, estimated)
    SELECT esiid, meter, channel, (ts AT TIME ZONE '{TZ}')::date, count(*), sum(kwh),
           count(*) FILTER (WHERE quality = 'estimated')
    FROM added GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
    ON CONFLICT (esiid, meter, channel, day) DO UPDATE
    SET found = d.found + EXCLUDED.found, kwh = d.kwh + EXCLUDED.kwh, estimated = d.estimated + EXCLUDED.estimated;
    RETURN NULL;
END $$;

CREATE FUNCTION smt_interval_day_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH gone AS (
        SELECT esiid, meter, channel, (ts AT TIME ZONE '{TZ}')::date AS day, count(*) AS found, sum(kwh) AS kwh,
               count(*) FILTER (WHERE quality = 'estimated') AS estimated
        FROM removed GROUP BY 1, 2, 3, 4
    )
    UPDATE smt_interval_day AS d
    SET found = d.found - g.found, kwh = d.kwh - g.kwh, estimated = d.estimated - g.estimated
    FROM gone g
    WHERE (d.esiid, d.meter, d.channel, d.day) = (g.esiid, g.meter, g.channel, g.day);
    -- A second statement: one statement cannot delete the row versions it has just updated.
    DELETE FROM smt_interval_day AS d
    USING (SELECT DISTINCT esiid, meter, channel, (ts AT TIME ZONE '{TZ}')::date AS day FROM removed) g
    WHERE d.found = 0 AND (d.esiid, d.meter, d.channel, d.day) = (g.esiid, g.meter, g.channel, g.day);
    RETURN NULL;
END $$;

CREATE FUNCTION smt_interval_day_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE smt_interval_day;
    RETURN NULL;
END $$;

-- An UPDATE is its old rows removed, then its new rows added (two triggers, in name order).
CREATE TRIGGER smt_interval_day_1_insert AFTER INSERT ON smt_interval
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION smt_interval_day_added();
CREATE TRIGGER smt_interval_day_1_update_old AFTER UPDATE ON smt_interval
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION smt_interval_day_removed();
CREATE TRIGGER smt_interval_day_2_update_new AFTER UPDATE ON smt_interval
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION smt_interval_day_added();
CREATE TRIGGER smt_interval_day_1_delete AFTER DELETE ON smt_interval
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION smt_interval_day_removed();
CREATE TRIGGER smt_interval_day_1_truncate AFTER TRUNCATE ON smt_interval
    FOR EACH STATEMENT EXECUTE FUNCTION smt_interval_day_truncated();

INSERT INTO smt_interval_day (esiid, meter, channel, day, found, kwh, estimated)
SELECT esiid, meter, channel, (ts AT TIME ZONE '{TZ}')::date, count(*), sum(kwh), count(*) FILTER (WHERE quality = 'estimated')
FROM smt_interval GROUP BY 1, 2, 3, 4;
"""

DROP = """
DROP TRIGGER smt_interval_day_1_insert ON smt_interval;
DROP TRIGGER smt_interval_day_1_update_old ON smt_interval;
DROP TRIGGER smt_interval_day_2_update_new ON smt_interval;
DROP TRIGGER smt_interval_day_1_delete ON smt_interval;
DROP TRIGGER smt_interval_day_1_truncate ON smt_interval;
DROP FUNCTION smt_interval_day_added(), smt_interval_day_removed(), smt_interval_day_truncated();
DROP TABLE smt_interval_day;
"""


def run(sql):
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":  # the embedded SQLite path has no summary
            schema_editor.execute(sql)

    return apply


class Migration(migrations.Migration):
    dependencies = [("smt", "0006_interval_covering_index")]
    operations = [migrations.RunPython(run(CREATE), run(DROP))]
