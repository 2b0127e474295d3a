-- Home gateways (authenticated by a token, stored as its SHA-256) and the devices they read.

CREATE TABLE gateways (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    token_hash   bytea NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz,
    last_seen_at timestamptz
);

CREATE TABLE devices (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The serial number from Device Information, or the Bluetooth address when there is none.
    serial               text NOT NULL UNIQUE CHECK (length(serial) BETWEEN 1 AND 64),
    kind                 text NOT NULL CHECK (kind IN ('blood_pressure', 'glucose')),
    model                text CHECK (length(model) <= 100),
    manufacturer         text CHECK (length(manufacturer) <= 100),
    -- The gateway that first reported the device; only it may upload the device's readings.
    gateway_id           bigint NOT NULL REFERENCES gateways (id),
    battery_percent      smallint CHECK (battery_percent BETWEEN 0 AND 100),
    last_sync_at         timestamptz,
    -- Device clock minus gateway clock at the last sync, in seconds.
    clock_offset_seconds double precision,
    first_seen_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX devices_gateway_idx ON devices (gateway_id);

-- Which resident a device's user index belongs to. 255 is "unknown user" (BPS User ID 0xFF),
-- used for single-user devices and glucose meters.
CREATE TABLE device_users (
    device_id   bigint NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    user_index  smallint NOT NULL CHECK (user_index BETWEEN 0 AND 255),
    resident_id bigint NOT NULL REFERENCES residents (id) ON DELETE CASCADE,
    assigned_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (device_id, user_index)
);
CREATE INDEX device_users_resident_idx ON device_users (resident_id);
