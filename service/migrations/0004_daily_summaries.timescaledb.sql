-- TimescaleDB: readings become hypertables (7-day chunks), compressed after 30 days, and the
-- daily per-resident summaries are continuous aggregates with real-time aggregation, so they
-- answer with the same names, columns and results as the plain PostgreSQL views.
-- Days are calendar days in China Standard Time (Asia/Shanghai, no daylight saving time).

SELECT create_hypertable('blood_pressure_readings', by_range('measured_at', INTERVAL '7 days'));
SELECT create_hypertable('glucose_readings', by_range('measured_at', INTERVAL '7 days'));

-- Segment by device_id: it is NOT NULL (resident_id is NULL for unassigned readings).
ALTER TABLE blood_pressure_readings SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'device_id',
    timescaledb.compress_orderby = 'measured_at DESC'
);
ALTER TABLE glucose_readings SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'device_id',
    timescaledb.compress_orderby = 'measured_at DESC'
);
SELECT add_compression_policy('blood_pressure_readings', compress_after => INTERVAL '30 days');
SELECT add_compression_policy('glucose_readings', compress_after => INTERVAL '30 days');

CREATE MATERIALIZED VIEW daily_blood_pressure
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT resident_id,
       time_bucket(INTERVAL '1 day', measured_at, 'Asia/Shanghai') AS day,
       count(*) AS readings,
       avg(systolic) AS systolic_mean,
       min(systolic) AS systolic_min,
       max(systolic) AS systolic_max,
       avg(diastolic) AS diastolic_mean,
       min(diastolic) AS diastolic_min,
       max(diastolic) AS diastolic_max,
       avg(pulse) AS pulse_mean,
       count(*) FILTER (WHERE irregular_pulse) AS irregular_pulse_readings
FROM blood_pressure_readings
WHERE resident_id IS NOT NULL
GROUP BY resident_id, time_bucket(INTERVAL '1 day', measured_at, 'Asia/Shanghai')
WITH NO DATA;

CREATE MATERIALIZED VIEW daily_glucose
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT resident_id,
       time_bucket(INTERVAL '1 day', measured_at, 'Asia/Shanghai') AS day,
       count(*) AS readings,
       avg(glucose_mmol) AS glucose_mean,
       min(glucose_mmol) AS glucose_min,
       max(glucose_mmol) AS glucose_max,
       count(*) FILTER (WHERE meal = 'fasting') AS fasting_readings,
       avg(glucose_mmol) FILTER (WHERE meal = 'fasting') AS fasting_mean
FROM glucose_readings
WHERE resident_id IS NOT NULL AND NOT control_solution
GROUP BY resident_id, time_bucket(INTERVAL '1 day', measured_at, 'Asia/Shanghai')
WITH NO DATA;

-- start_offset NULL: late uploads (a gateway offline for days) and readings assigned to a
-- resident afterwards are re-materialised whatever their age; only invalidated days are redone.
SELECT add_continuous_aggregate_policy('daily_blood_pressure',
    start_offset => NULL, end_offset => INTERVAL '1 hour',
    schedule_interval => INTERVAL '15 minutes');
SELECT add_continuous_aggregate_policy('daily_glucose',
    start_offset => NULL, end_offset => INTERVAL '1 hour',
    schedule_interval => INTERVAL '15 minutes');
