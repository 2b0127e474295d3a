-- Detection: readings waiting to be checked, what detection remembers per resident, the
-- findings it reported, and the alerts people act on.

-- Detection settings beyond the personal targets: analytics.thresholds.Thresholds names,
-- e.g. {"bp_urgent_systolic": 170}. The resident's override the community's.
ALTER TABLE communities ADD COLUMN detection_overrides jsonb NOT NULL DEFAULT '{}'
    CHECK (jsonb_typeof(detection_overrides) = 'object');
ALTER TABLE residents ADD COLUMN detection_overrides jsonb NOT NULL DEFAULT '{}'
    CHECK (jsonb_typeof(detection_overrides) = 'object');

-- Every stored reading of a resident is queued here in the ingest transaction, and leaves in
-- the transaction that checked it: no reading is left unchecked, none is checked twice.
CREATE TABLE readings_to_check (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    resident_id     bigint NOT NULL REFERENCES residents (id) ON DELETE CASCADE,
    kind            text NOT NULL CHECK (kind IN ('blood_pressure', 'glucose')),
    device_id       bigint NOT NULL,
    user_index      smallint NOT NULL,
    sequence_number integer NOT NULL,
    measured_at     timestamptz NOT NULL,
    queued_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX readings_to_check_resident_idx ON readings_to_check (resident_id, id);

CREATE TABLE detection_states (
    resident_id bigint PRIMARY KEY REFERENCES residents (id) ON DELETE CASCADE,
    state       jsonb NOT NULL,
    -- When something falls due next (a re-measure window's end, the daily check).
    due_at      timestamptz,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX detection_states_due_idx ON detection_states (due_at) WHERE due_at IS NOT NULL;

CREATE TABLE findings (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    resident_id bigint NOT NULL REFERENCES residents (id) ON DELETE CASCADE,
    rule        text NOT NULL,
    severity    text NOT NULL CHECK (severity IN ('info', 'warning', 'urgent', 'critical')),
    status      text NOT NULL CHECK (status IN ('open', 'raised', 'cleared')),
    at          timestamptz NOT NULL,
    reading_at  timestamptz,
    audience    text[] NOT NULL DEFAULT '{}',
    message     text NOT NULL,
    evidence    jsonb NOT NULL DEFAULT '{}',
    alert_id    bigint,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX findings_resident_idx ON findings (resident_id, at, id);

-- One open alert per resident and rule; its severity only rises; detection resolves it with
-- an all-clear. Acknowledgement and escalation belong to the alerting layer.
CREATE TABLE alerts (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    resident_id     bigint NOT NULL REFERENCES residents (id) ON DELETE CASCADE,
    rule            text NOT NULL,
    severity        text NOT NULL CHECK (severity IN ('info', 'warning', 'urgent', 'critical')),
    state           text NOT NULL DEFAULT 'open'
                    CHECK (state IN ('open', 'acknowledged', 'escalated', 'resolved')),
    audience        text[] NOT NULL DEFAULT '{}',
    message         text NOT NULL,
    evidence        jsonb NOT NULL DEFAULT '{}',
    reading_at      timestamptz,
    opened_at       timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    resolved_at     timestamptz
);
CREATE UNIQUE INDEX alerts_one_open_idx ON alerts (resident_id, rule) WHERE state <> 'resolved';
CREATE INDEX alerts_open_idx ON alerts (state, severity) WHERE state <> 'resolved';
