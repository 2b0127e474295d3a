-- What the doctor's panel shows of each resident, kept ready so that a panel of 5,000
-- residents reads 5,000 rows instead of a month of readings each. Written by
-- `service.readings.summaries`: in the transaction that checks a resident's new readings, by
-- the worker once a day for everyone, and by the panel itself for any resident it finds stale.
-- Windows are calendar days in China Standard Time ending on `day`.
CREATE TABLE resident_summaries (
    resident_id       bigint PRIMARY KEY REFERENCES residents (id) ON DELETE CASCADE,
    day               date NOT NULL,
    refreshed_at      timestamptz NOT NULL DEFAULT now(),
    last_systolic     real,
    last_diastolic    real,
    last_bp_at        timestamptz,
    last_glucose      real,
    last_glucose_at   timestamptz,
    -- Means of the readings the monitor did not flag (body movement, loose cuff).
    systolic_7d       real,
    diastolic_7d      real,
    systolic_30d      real,
    diastolic_30d     real,
    bp_readings_30d   integer NOT NULL,
    days_measured_7d  smallint NOT NULL,
    days_measured_30d smallint NOT NULL
);
CREATE INDEX resident_summaries_day_idx ON resident_summaries (day);
