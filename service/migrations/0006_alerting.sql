-- Alerting: who is told about an alert, how and when; every message is a row here before
-- anything is sent, and moves forward only.

-- Escalation policy overrides of a community (service.alerting.policy names), e.g.
-- {"urgent": {"repeat_hours": 2}, "link": "https://linli.example.org/a"}.
ALTER TABLE communities ADD COLUMN alerting_overrides jsonb NOT NULL DEFAULT '{}'
    CHECK (jsonb_typeof(alerting_overrides) = 'object');

-- Doctors are reached by phone, in their own time zone (the daily digest).
ALTER TABLE users ADD COLUMN phone text CHECK (phone ~ '^\+[1-9][0-9]{6,14}$');
ALTER TABLE users ADD COLUMN time_zone text NOT NULL DEFAULT 'Asia/Shanghai';

-- The resident's own doctor; without one, the doctors serving the community are told.
ALTER TABLE residents ADD COLUMN doctor_id bigint REFERENCES users (id) ON DELETE SET NULL;

-- A daughter working in another city keeps her own clock; NULL means the resident's.
ALTER TABLE contacts ADD COLUMN time_zone text;
-- Set when the contact replied STOP: no more SMS until START.
ALTER TABLE contacts ADD COLUMN sms_stopped_at timestamptz;

-- The alert lifecycle: open -> notified -> acknowledged -> resolved, or escalated when
-- nobody acknowledged in time.
ALTER TABLE alerts DROP CONSTRAINT alerts_state_check;
ALTER TABLE alerts ADD CONSTRAINT alerts_state_check
    CHECK (state IN ('open', 'notified', 'acknowledged', 'escalated', 'resolved'));
ALTER TABLE alerts ADD COLUMN notified_at timestamptz;
ALTER TABLE alerts ADD COLUMN escalated_at timestamptz;
ALTER TABLE alerts ADD COLUMN acknowledged_at timestamptz;
-- Who acknowledged: 'contact:12', 'user:3'; and how: 'sms', 'voice', 'api'.
ALTER TABLE alerts ADD COLUMN acknowledged_by text;
ALTER TABLE alerts ADD COLUMN acknowledged_via text;

-- The notification outbox: one message on one channel to one person.
CREATE TABLE notifications (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id         bigint REFERENCES alerts (id) ON DELETE CASCADE,
    resident_id      bigint REFERENCES residents (id) ON DELETE CASCADE,
    rule             text,
    -- alert: told when the alert opened or rose; escalation: told because nobody
    -- acknowledged (sent only while the alert is still unacknowledged); all_clear; digest.
    purpose          text NOT NULL
                     CHECK (purpose IN ('alert', 'escalation', 'all_clear', 'digest')),
    severity         text NOT NULL CHECK (severity IN ('info', 'warning', 'urgent', 'critical')),
    contact_id       bigint REFERENCES contacts (id) ON DELETE CASCADE,
    user_id          bigint REFERENCES users (id) ON DELETE CASCADE,
    channel          text NOT NULL CHECK (channel IN ('sms', 'voice')),
    address          text NOT NULL,
    language         text NOT NULL CHECK (language IN ('zh-CN', 'en')),
    body             text NOT NULL,
    -- Which person of the escalation this is (1 = the first family contact); the doctor 0.
    contact_rank     smallint NOT NULL DEFAULT 0,
    due_at           timestamptz NOT NULL,
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'sending', 'queued', 'sent', 'delivered',
                                       'undelivered', 'failed', 'gave_up', 'cancelled')),
    attempts         smallint NOT NULL DEFAULT 0,
    first_attempt_at timestamptz,
    claimed_at       timestamptz,
    provider         text,
    provider_id      text,
    error            text,
    digest_day       date,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CHECK ((contact_id IS NULL) <> (user_id IS NULL)),
    CHECK ((purpose = 'digest') = (digest_day IS NOT NULL))
);
CREATE INDEX notifications_due_idx ON notifications (due_at) WHERE status = 'pending';
CREATE INDEX notifications_sending_idx ON notifications (claimed_at) WHERE status = 'sending';
CREATE UNIQUE INDEX notifications_provider_idx ON notifications (provider, provider_id);
CREATE INDEX notifications_alert_idx ON notifications (alert_id);
-- A reply is matched to the newest message sent to the number it came from.
CREATE INDEX notifications_address_idx ON notifications (address, id DESC);
CREATE INDEX notifications_resident_rule_idx ON notifications (resident_id, rule, created_at);
-- One digest a day per doctor, however many workers prepare it.
CREATE UNIQUE INDEX notifications_digest_idx ON notifications (user_id, digest_day)
    WHERE purpose = 'digest';
