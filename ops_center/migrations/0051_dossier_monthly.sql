-- A monthly rollup beside the daily one: KPIs by month or year read whole past months from here (about 30 times
-- fewer rows), and only the partial months at the edges of a window (and the current month) from dossier_daily.
-- Kept current in the same statement batch as dossier_daily (ops_center.dossiers.rollup.apply_deltas).
CREATE TABLE dossier_monthly (
    month date NOT NULL CHECK (extract(day FROM month) = 1),
    unit_code text NOT NULL,
    ward_set text NOT NULL,
    ward_code text NOT NULL,
    received_online_l3 integer NOT NULL DEFAULT 0,
    received_online_l4 integer NOT NULL DEFAULT 0,
    received_counter integer NOT NULL DEFAULT 0,
    received_postal integer NOT NULL DEFAULT 0,
    received_post_offered integer NOT NULL DEFAULT 0,
    resolved integer NOT NULL DEFAULT 0,
    resolved_on_time integer NOT NULL DEFAULT 0,
    returned integer NOT NULL DEFAULT 0,
    returned_postal integer NOT NULL DEFAULT 0,
    returned_post_offered integer NOT NULL DEFAULT 0,
    overdue_in integer NOT NULL DEFAULT 0,
    overdue_out integer NOT NULL DEFAULT 0,
    PRIMARY KEY (month, unit_code, ward_set, ward_code)
);

INSERT INTO dossier_monthly
SELECT date_trunc('month', day)::date, unit_code, ward_set, ward_code,
       sum(received_online_l3), sum(received_online_l4), sum(received_counter), sum(received_postal),
       sum(received_post_offered), sum(resolved), sum(resolved_on_time), sum(returned), sum(returned_postal),
       sum(returned_post_offered), sum(overdue_in), sum(overdue_out)
FROM dossier_daily GROUP BY 1, 2, 3, 4;

-- Rows are updated in place by every batch: leave room on each page for HOT updates.
ALTER TABLE dossier_daily SET (fillfactor = 80);
ALTER TABLE dossier_monthly SET (fillfactor = 70);
