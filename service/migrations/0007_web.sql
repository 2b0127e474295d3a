-- The web pages: sign-in sessions, failed sign-ins (for rate limiting), the audit trail of
-- who looked at which resident, and doctors' notes on alerts.

CREATE TABLE web_sessions (
    token_hash   bytea PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- Forms of this session carry this value; a form without it changes nothing.
    csrf_token   text NOT NULL,
    client       text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL
);
CREATE INDEX web_sessions_user_idx ON web_sessions (user_id);

CREATE TABLE sign_in_failures (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username  text NOT NULL,
    client    text,
    at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sign_in_failures_username_idx ON sign_in_failures (lower(username), at);
CREATE INDEX sign_in_failures_client_idx ON sign_in_failures (client, at);

-- Every view of a resident's data: who, which resident, when, from where.
CREATE TABLE audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     bigint REFERENCES users (id) ON DELETE SET NULL,
    action      text NOT NULL,
    resident_id bigint REFERENCES residents (id) ON DELETE SET NULL,
    client      text,
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_at_idx ON audit_log (at DESC);
CREATE INDEX audit_log_resident_idx ON audit_log (resident_id, at DESC);

-- What a doctor wrote when acknowledging or resolving an alert, or about a resident.
CREATE TABLE notes (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    resident_id bigint NOT NULL REFERENCES residents (id) ON DELETE CASCADE,
    alert_id    bigint REFERENCES alerts (id) ON DELETE SET NULL,
    user_id     bigint REFERENCES users (id) ON DELETE SET NULL,
    text        text NOT NULL CHECK (length(text) BETWEEN 1 AND 2000),
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notes_resident_idx ON notes (resident_id, at DESC);
