-- The national service index, faster over any window (ops_center.dossiers.procedure_days, index_rollup):
-- 1. dossier_procedure_days: per year, unit, ward and procedure, the days with a dossier with a fee due received,
--    an online payment, a dossier using population data, as bit strings of 366 days (bit i = the year's day i) —
--    the procedures counted by 3.2, 3.3 and 4.7 over any window read one row per (unit, ward, procedure) and year;
-- 2. paid_online in the index rollups (on the payment's day): the units active in a period through a payment only,
--    read with the other counters instead of from the procedure rollup.
-- Both are filled from what is stored, exactly as a rebuild would.

ALTER TABLE dossier_index_daily ADD COLUMN paid_online integer NOT NULL DEFAULT 0;
ALTER TABLE dossier_index_monthly ADD COLUMN paid_online integer NOT NULL DEFAULT 0;
ALTER TABLE dossier_index_yearly ADD COLUMN paid_online integer NOT NULL DEFAULT 0;

INSERT INTO dossier_index_daily (day, unit_code, ward_set, ward_code, paid_online)
SELECT (paid_online_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date, unit_code, ward_set, ward_code, count(*)
FROM dossiers
WHERE paid_online_at IS NOT NULL AND received_at IS NOT NULL AND unit_code IS NOT NULL AND due_date IS NOT NULL
GROUP BY 1, 2, 3, 4
ON CONFLICT (day, unit_code, ward_set, ward_code) DO UPDATE SET paid_online = EXCLUDED.paid_online;

INSERT INTO dossier_index_monthly (month, unit_code, ward_set, ward_code, paid_online)
SELECT date_trunc('month', day)::date, unit_code, ward_set, ward_code, sum(paid_online)
FROM dossier_index_daily WHERE paid_online > 0 GROUP BY 1, 2, 3, 4
ON CONFLICT (month, unit_code, ward_set, ward_code) DO UPDATE SET paid_online = EXCLUDED.paid_online;

INSERT INTO dossier_index_yearly (year, unit_code, ward_set, ward_code, paid_online)
SELECT date_trunc('year', month)::date, unit_code, ward_set, ward_code, sum(paid_online)
FROM dossier_index_monthly WHERE paid_online > 0 GROUP BY 1, 2, 3, 4
ON CONFLICT (year, unit_code, ward_set, ward_code) DO UPDATE SET paid_online = EXCLUDED.paid_online;

CREATE TABLE dossier_procedure_days (
    year date NOT NULL CHECK (extract(doy FROM year) = 1),
    unit_code text NOT NULL,
    ward_set text NOT NULL,
    ward_code text NOT NULL,
    procedure_code text NOT NULL,
    fee_days bit(366) NOT NULL,
    paid_days bit(366) NOT NULL,
    pop_days bit(366) NOT NULL,
    PRIMARY KEY (year, unit_code, ward_set, ward_code, procedure_code)
);
ALTER TABLE dossier_procedure_days SET (fillfactor = 70);

INSERT INTO dossier_procedure_days (year, unit_code, ward_set, ward_code, procedure_code, fee_days, paid_days, pop_days)
SELECT date_trunc('year', day)::date, unit_code, ward_set, ward_code, procedure_code,
       bit_or(CASE WHEN fee_due > 0 THEN set_bit(0::bit(366), day - date_trunc('year', day)::date, 1)
                   ELSE 0::bit(366) END),
       bit_or(CASE WHEN paid_online > 0 THEN set_bit(0::bit(366), day - date_trunc('year', day)::date, 1)
                   ELSE 0::bit(366) END),
       bit_or(CASE WHEN population > 0 THEN set_bit(0::bit(366), day - date_trunc('year', day)::date, 1)
                   ELSE 0::bit(366) END)
FROM dossier_procedure_daily WHERE fee_due > 0 OR paid_online > 0 OR population > 0
GROUP BY 1, 2, 3, 4, 5;
