-- Plain PostgreSQL: daily per-resident summaries as ordinary views over the readings.
-- The TimescaleDB variant of this migration has the same names, columns and results.
-- Days are calendar days in China Standard Time (UTC+8, no daylight saving time).

CREATE VIEW daily_blood_pressure AS
SELECT resident_id,
       date_bin(INTERVAL '1 day', measured_at, TIMESTAMPTZ '2000-01-01 00:00:00+08') AS day,
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
GROUP BY resident_id, date_bin(INTERVAL '1 day', measured_at, TIMESTAMPTZ '2000-01-01 00:00:00+08');

CREATE VIEW daily_glucose AS
SELECT resident_id,
       date_bin(INTERVAL '1 day', measured_at, TIMESTAMPTZ '2000-01-01 00:00:00+08') AS day,
       count(*) AS readings,
       avg(glucose_mmol) AS glucose_mean,
       min(glucose_mmol) AS glucose_min,
       max(glucose_mmol) AS glucose_max,
       count(*) FILTER (WHERE meal = 'fasting') AS fasting_readings,
       avg(glucose_mmol) FILTER (WHERE meal = 'fasting') AS fasting_mean
FROM glucose_readings
WHERE resident_id IS NOT NULL AND NOT control_solution
GROUP BY resident_id, date_bin(INTERVAL '1 day', measured_at, TIMESTAMPTZ '2000-01-01 00:00:00+08');
