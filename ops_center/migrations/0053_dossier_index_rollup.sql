-- The rollups of the national service index (ops_center.dossiers.index_rollup): counters per day and per month,
-- kept current in the transaction of every dossier event batch, plus per procedure for the indicators that count
-- procedures. Dossiers already stored are counted in (they carry no index facts yet: only reception, end, time).

CREATE TABLE dossier_index_daily (
    day date NOT NULL,
    unit_code text NOT NULL,
    ward_set text NOT NULL,
    ward_code text NOT NULL,
    received integer NOT NULL DEFAULT 0,
    received_synced integer NOT NULL DEFAULT 0,
    received_eligible integer NOT NULL DEFAULT 0,
    received_full_plain integer NOT NULL DEFAULT 0,
    received_full_paper_eres integer NOT NULL DEFAULT 0,
    received_digitised_plain integer NOT NULL DEFAULT 0,
    received_digitised_paper_eres integer NOT NULL DEFAULT 0,
    received_reused integer NOT NULL DEFAULT 0,
    received_store integer NOT NULL DEFAULT 0,
    received_population integer NOT NULL DEFAULT 0,
    received_fee_due integer NOT NULL DEFAULT 0,
    received_fee_paid integer NOT NULL DEFAULT 0,
    ended integer NOT NULL DEFAULT 0,
    ended_on_time integer NOT NULL DEFAULT 0,
    resolved integer NOT NULL DEFAULT 0,
    resolved_late integer NOT NULL DEFAULT 0,
    resolved_bad integer NOT NULL DEFAULT 0,
    resolved_paper integer NOT NULL DEFAULT 0,
    resolved_paper_eres integer NOT NULL DEFAULT 0,
    open_in integer NOT NULL DEFAULT 0,
    open_out integer NOT NULL DEFAULT 0,
    late_in integer NOT NULL DEFAULT 0,
    late_out integer NOT NULL DEFAULT 0,
    PRIMARY KEY (day, unit_code, ward_set, ward_code)
);
CREATE TABLE dossier_index_monthly (LIKE dossier_index_daily INCLUDING DEFAULTS);
ALTER TABLE dossier_index_monthly RENAME COLUMN day TO month;
ALTER TABLE dossier_index_monthly ADD PRIMARY KEY (month, unit_code, ward_set, ward_code);
ALTER TABLE dossier_index_monthly ADD CHECK (extract(day FROM month) = 1);

-- Whole years of a window are read from a yearly table (a year by unit: one row per unit and ward).
CREATE TABLE dossier_index_yearly (LIKE dossier_index_daily INCLUDING DEFAULTS);
ALTER TABLE dossier_index_yearly RENAME COLUMN day TO year;
ALTER TABLE dossier_index_yearly ADD PRIMARY KEY (year, unit_code, ward_set, ward_code);
ALTER TABLE dossier_index_yearly ADD CHECK (extract(doy FROM year) = 1);

CREATE TABLE dossier_procedure_daily (
    day date NOT NULL,
    unit_code text NOT NULL,
    ward_set text NOT NULL,
    ward_code text NOT NULL,
    procedure_code text NOT NULL,
    fee_due integer NOT NULL DEFAULT 0,
    paid_online integer NOT NULL DEFAULT 0,
    population integer NOT NULL DEFAULT 0,
    PRIMARY KEY (day, unit_code, ward_set, ward_code, procedure_code)
);
CREATE TABLE dossier_procedure_monthly (LIKE dossier_procedure_daily INCLUDING DEFAULTS);
ALTER TABLE dossier_procedure_monthly RENAME COLUMN day TO month;
ALTER TABLE dossier_procedure_monthly ADD PRIMARY KEY (month, unit_code, ward_set, ward_code, procedure_code);
ALTER TABLE dossier_procedure_monthly ADD CHECK (extract(day FROM month) = 1);

CREATE TABLE dossier_procedure_yearly (LIKE dossier_procedure_daily INCLUDING DEFAULTS);
ALTER TABLE dossier_procedure_yearly RENAME COLUMN day TO year;
ALTER TABLE dossier_procedure_yearly ADD PRIMARY KEY (year, unit_code, ward_set, ward_code, procedure_code);
ALTER TABLE dossier_procedure_yearly ADD CHECK (extract(doy FROM year) = 1);

ALTER TABLE dossier_index_daily SET (fillfactor = 80);
ALTER TABLE dossier_index_monthly SET (fillfactor = 70);
ALTER TABLE dossier_procedure_daily SET (fillfactor = 80);
ALTER TABLE dossier_procedure_monthly SET (fillfactor = 70);
ALTER TABLE dossier_index_yearly SET (fillfactor = 70);
ALTER TABLE dossier_procedure_yearly SET (fillfactor = 70);

-- "By the period's end": dossiers received in a period whose electronic result came after it (3.1, 4.2), and
-- dossiers granted in a period rated badly after it (5.3), are found by stabbing these ranges at the period's end.
-- (covering: the group columns and the flags counted, for index-only scans)
CREATE INDEX dossiers_eresult_range_idx ON dossiers USING gist (tstzrange(received_at, resolved_at))
    INCLUDE (received_at, resolved_at, unit_code, ward_set, ward_code, channel, full_online_eligible, digitised)
    WHERE paper_result AND electronic_result AND outcome = 'granted';
CREATE INDEX dossiers_rating_range_idx ON dossiers USING gist (tstzrange(resolved_at, greatest(rated_at, resolved_at)))
    INCLUDE (resolved_at, rated_at, unit_code, ward_set, ward_code)
    WHERE outcome = 'granted' AND rating IN ('unsatisfied', 'complaint');

INSERT INTO dossier_index_daily (day, unit_code, ward_set, ward_code, received, open_in, ended, open_out,
                                 ended_on_time, resolved, resolved_late, late_in, late_out)
SELECT day, unit_code, ward_set, ward_code, sum(rcv), sum(rcv), sum(ended), sum(ended), sum(on_time), sum(ended),
       sum(ended) - sum(on_time), sum(late_in), sum(late_out)
FROM (
    SELECT (received_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date AS day, unit_code, ward_set, ward_code, 1 AS rcv,
           0 AS ended, 0 AS on_time, 0 AS late_in, 0 AS late_out
    FROM dossiers WHERE received_at IS NOT NULL AND unit_code IS NOT NULL AND due_date IS NOT NULL
    UNION ALL
    SELECT (resolved_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date, unit_code, ward_set, ward_code, 0, 1,
           CASE WHEN end_on_time THEN 1 ELSE 0 END, 0,
           CASE WHEN late_day < (resolved_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date THEN 1 ELSE 0 END
    FROM dossiers WHERE received_at IS NOT NULL AND unit_code IS NOT NULL AND due_date IS NOT NULL
                    AND resolved_at IS NOT NULL
    UNION ALL
    SELECT late_day, unit_code, ward_set, ward_code, 0, 0, 0, 1, 0
    FROM dossiers WHERE received_at IS NOT NULL AND unit_code IS NOT NULL AND due_date IS NOT NULL
                    AND (resolved_at IS NULL OR late_day < (resolved_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date)
) x GROUP BY 1, 2, 3, 4;

INSERT INTO dossier_index_monthly
SELECT date_trunc('month', day)::date, unit_code, ward_set, ward_code,
       sum(received), sum(received_synced), sum(received_eligible), sum(received_full_plain),
       sum(received_full_paper_eres), sum(received_digitised_plain), sum(received_digitised_paper_eres),
       sum(received_reused), sum(received_store), sum(received_population), sum(received_fee_due),
       sum(received_fee_paid), sum(ended), sum(ended_on_time), sum(resolved), sum(resolved_late), sum(resolved_bad),
       sum(resolved_paper), sum(resolved_paper_eres), sum(open_in), sum(open_out), sum(late_in), sum(late_out)
FROM dossier_index_daily GROUP BY 1, 2, 3, 4;

INSERT INTO dossier_index_yearly
SELECT date_trunc('year', month)::date, unit_code, ward_set, ward_code,
       sum(received), sum(received_synced), sum(received_eligible), sum(received_full_plain),
       sum(received_full_paper_eres), sum(received_digitised_plain), sum(received_digitised_paper_eres),
       sum(received_reused), sum(received_store), sum(received_population), sum(received_fee_due),
       sum(received_fee_paid), sum(ended), sum(ended_on_time), sum(resolved), sum(resolved_late), sum(resolved_bad),
       sum(resolved_paper), sum(resolved_paper_eres), sum(open_in), sum(open_out), sum(late_in), sum(late_out)
FROM dossier_index_monthly GROUP BY 1, 2, 3, 4;
