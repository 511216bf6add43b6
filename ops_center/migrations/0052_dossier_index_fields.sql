-- Dossier and catalogue fields for the national service index (Decision 766/QĐ-TTg; see docs/scorecard.md).
-- Old rows stay valid: the online channels take the names of Decree 42/2022 (online_l3 -> online_partial,
-- online_l4 -> online_full), every earlier resolution is a granted one, the new flags default to false.

ALTER TABLE dossiers DROP CONSTRAINT IF EXISTS dossiers_channel_check;
UPDATE dossiers SET channel = CASE channel WHEN 'online_l3' THEN 'online_partial' ELSE 'online_full' END
WHERE channel IN ('online_l3', 'online_l4');
ALTER TABLE dossiers ADD CONSTRAINT dossiers_channel_check
    CHECK (channel IN ('online_partial', 'online_full', 'counter', 'postal'));

ALTER TABLE dossiers
    ADD COLUMN synced_at timestamptz,                       -- synced to the National Public Service Portal
    ADD COLUMN digitised boolean NOT NULL DEFAULT false,     -- components digitised at reception
    ADD COLUMN reused_data boolean NOT NULL DEFAULT false,   -- a component reused from digitised data
    ADD COLUMN from_personal_store boolean NOT NULL DEFAULT false,  -- a component from the citizen's store
    ADD COLUMN population_data boolean NOT NULL DEFAULT false,      -- VNeID account / population data used
    ADD COLUMN fee_due boolean NOT NULL DEFAULT false,
    ADD COLUMN paid_online_at timestamptz,
    ADD COLUMN supplement_requests timestamptz[] NOT NULL DEFAULT '{}',
    ADD COLUMN supplement_receipts timestamptz[] NOT NULL DEFAULT '{}',
    ADD COLUMN outcome text CHECK (outcome IN ('granted', 'refused', 'withdrawn')),
    ADD COLUMN electronic_result boolean NOT NULL DEFAULT false,
    ADD COLUMN result_synced_at timestamptz,                 -- result synced to the citizen's personal store
    ADD COLUMN rating text CHECK (rating IN ('satisfied', 'unsatisfied', 'complaint')),
    ADD COLUMN rated_at timestamptz,
    -- the procedure as it was at reception (like processing_days and offered_by_post)
    ADD COLUMN paper_result boolean NOT NULL DEFAULT false,
    ADD COLUMN full_online_eligible boolean NOT NULL DEFAULT false,
    -- derived from the above by ops_center.dossiers.timeliness, kept current with every batch
    ADD COLUMN late_day date,         -- the first local day at whose close the dossier, if still open, is late
    ADD COLUMN end_on_time boolean;   -- ended (resolved_at) on time, the citizen's supplement time subtracted
UPDATE dossiers SET outcome = 'granted' WHERE resolved_at IS NOT NULL;
UPDATE dossiers SET late_day = due_date + 1 WHERE due_date IS NOT NULL;
UPDATE dossiers SET end_on_time = (resolved_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date <= due_date
WHERE resolved_at IS NOT NULL AND due_date IS NOT NULL;

ALTER TABLE procedures
    ADD COLUMN online_service text NOT NULL DEFAULT 'none' CHECK (online_service IN ('none', 'partial', 'full')),
    ADD COLUMN full_online_eligible boolean NOT NULL DEFAULT false,
    ADD COLUMN has_fees boolean NOT NULL DEFAULT false,
    ADD COLUMN paper_result boolean NOT NULL DEFAULT false,
    ADD COLUMN citizen_facing boolean NOT NULL DEFAULT false,
    ADD COLUMN decision_date date,          -- the publication decision (quyết định công bố)
    ADD COLUMN legal_effective_date date,   -- when its legal basis takes effect
    ADD COLUMN public_date date,            -- made public on the national procedure database
    ADD COLUMN parts text[] NOT NULL DEFAULT '{}'
        CHECK (parts <@ ARRAY['name', 'steps', 'method', 'components', 'time_limit', 'applicants', 'agency']);
UPDATE procedures SET online_service = CASE online_level WHEN 4 THEN 'full' WHEN 3 THEN 'partial' ELSE 'none' END;

-- Drill-down and the "by the period's end" corrections of the index read these.
CREATE INDEX dossiers_resolved_idx ON dossiers (resolved_at) WHERE resolved_at IS NOT NULL;
CREATE INDEX dossiers_paid_idx ON dossiers (paid_online_at) WHERE paid_online_at IS NOT NULL;
