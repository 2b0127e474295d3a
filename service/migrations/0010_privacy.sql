-- Privacy: the audit trail records changes as well as views, and outlives the residents it
-- names; retention deletes what is past its time, by age, in batches (service.privacy).

-- An erased resident's number stays in the trail ("resident 12 was erased by user 3"): a bare
-- number is no personal data, and the entries before the erasure keep their meaning.
ALTER TABLE audit_log DROP CONSTRAINT audit_log_resident_id_fkey;
-- What changed: field names and ids, never values of personal data.
ALTER TABLE audit_log ADD COLUMN detail jsonb NOT NULL DEFAULT '{}'
    CHECK (jsonb_typeof(detail) = 'object');
-- The trail is read newest first, by resident or by user, a page at a time (by id).
DROP INDEX audit_log_resident_idx;
CREATE INDEX audit_log_resident_idx ON audit_log (resident_id, id DESC);
CREATE INDEX audit_log_user_idx ON audit_log (user_id, id DESC);

-- Retention finds what is old by these columns.
CREATE INDEX notifications_unredacted_idx ON notifications (created_at) WHERE address <> '';
CREATE INDEX sign_in_failures_at_idx ON sign_in_failures (at);
CREATE INDEX web_sessions_expires_idx ON web_sessions (expires_at);

-- Old readings on plain PostgreSQL: a BRIN index on the time is a few pages for years of
-- readings, which arrive roughly in time order. TimescaleDB drops whole chunks instead, and
-- indexes each chunk's time already.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        CREATE INDEX blood_pressure_readings_measured_brin
            ON blood_pressure_readings USING brin (measured_at);
        CREATE INDEX glucose_readings_measured_brin ON glucose_readings USING brin (measured_at);
    END IF;
END
$$;
