-- Readings. One table per kind; the columns they share come first and have the same names.
--
-- Idempotency key: (device_id, user_index, sequence_number, measured_at). A resend always
-- carries the same values, so it is a no-op; a sequence number that repeats after a uint16
-- wrap or a meter reset comes with another time and is a new reading. Every key column is
-- NOT NULL (sequence_number -1 = the device gave none): NULLs in unique keys are unreliable on
-- compressed TimescaleDB chunks, and the key includes the time column as hypertables require.

CREATE TABLE blood_pressure_readings (
    id                bigint GENERATED ALWAYS AS IDENTITY,
    device_id         bigint NOT NULL REFERENCES devices (id),
    user_index        smallint NOT NULL DEFAULT 255 CHECK (user_index BETWEEN 0 AND 255),
    sequence_number   integer NOT NULL DEFAULT -1 CHECK (sequence_number >= -1),
    resident_id       bigint REFERENCES residents (id) ON DELETE CASCADE,  -- NULL: unassigned
    measured_at       timestamptz NOT NULL,
    received_at       timestamptz NOT NULL DEFAULT now(),
    time_problem      text CHECK (time_problem IN ('future')),
    -- device: the device's clock; corrected: it, moved by the clock's measured offset;
    -- received: the device gave no usable time, so when the gateway received the reading.
    time_source       text NOT NULL DEFAULT 'device'
                      CHECK (time_source IN ('device', 'corrected', 'received')),
    -- Pressures in mmHg whatever the device sent; unit_sent keeps what it sent.
    systolic          real NOT NULL,
    diastolic         real NOT NULL,
    mean_arterial     real,
    pulse             real,  -- beats per minute
    unit_sent         text NOT NULL CHECK (unit_sent IN ('mmHg', 'kPa')),
    -- Measurement Status bits; NULL when the device did not report them.
    body_movement     boolean,
    cuff_loose        boolean,
    irregular_pulse   boolean,
    pulse_range       text CHECK (pulse_range IN ('within', 'above', 'below')),
    improper_position boolean,
    UNIQUE (device_id, user_index, sequence_number, measured_at)
);
CREATE INDEX blood_pressure_readings_resident_idx
    ON blood_pressure_readings (resident_id, measured_at DESC);
CREATE INDEX blood_pressure_readings_unassigned_idx
    ON blood_pressure_readings (device_id, user_index) WHERE resident_id IS NULL;

CREATE TABLE glucose_readings (
    id              bigint GENERATED ALWAYS AS IDENTITY,
    device_id       bigint NOT NULL REFERENCES devices (id),
    user_index      smallint NOT NULL DEFAULT 255 CHECK (user_index BETWEEN 0 AND 255),
    sequence_number integer NOT NULL DEFAULT -1 CHECK (sequence_number >= -1),
    resident_id     bigint REFERENCES residents (id) ON DELETE CASCADE,  -- NULL: unassigned
    measured_at     timestamptz NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    time_problem    text CHECK (time_problem IN ('future')),
    time_source     text NOT NULL DEFAULT 'device'
                    CHECK (time_source IN ('device', 'corrected', 'received')),
    -- Concentration in mmol/L whatever the device sent; value_sent and unit_sent keep what it sent.
    glucose_mmol    real NOT NULL,
    value_sent      double precision NOT NULL,  -- kg/L values are tiny: keep every digit
    unit_sent       text NOT NULL CHECK (unit_sent IN ('mmol/L', 'mg/dL', 'mol/L', 'kg/L')),
    meal            text CHECK (meal IN ('preprandial', 'postprandial', 'fasting', 'casual',
                                         'bedtime')),
    sample_type     text,
    sample_location text,
    -- Sensor Status Annunciation (GLS 0x2A18), the device's uint16 bit field.
    sensor_status   integer NOT NULL DEFAULT 0 CHECK (sensor_status BETWEEN 0 AND 65535),
    control_solution boolean NOT NULL DEFAULT false,
    UNIQUE (device_id, user_index, sequence_number, measured_at)
);
CREATE INDEX glucose_readings_resident_idx ON glucose_readings (resident_id, measured_at DESC);
CREATE INDEX glucose_readings_unassigned_idx
    ON glucose_readings (device_id, user_index) WHERE resident_id IS NULL;
