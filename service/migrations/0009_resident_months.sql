-- A month of each resident's counted readings, for the community's control rates: a year of
-- them is twelve rows a resident instead of every reading. Written with the resident
-- summaries (`service.readings.summaries`): in the transaction that checks a resident's new
-- readings, for the months they fall in, and by the pages' refresh of stale summaries, for
-- the months of the readings still waiting for their check. Months are calendar months in China Standard Time. Counted: blood pressure the
-- monitor did not flag (body movement, loose cuff); fasting glucose, control solution not.
CREATE TABLE resident_months (
    resident_id      bigint NOT NULL REFERENCES residents (id) ON DELETE CASCADE,
    month            date NOT NULL,
    bp_readings      integer NOT NULL,
    systolic_sum     double precision NOT NULL,
    diastolic_sum    double precision NOT NULL,
    fasting_readings integer NOT NULL,
    fasting_sum      double precision NOT NULL,
    PRIMARY KEY (resident_id, month)
);

-- The readings already stored: every month they cover.
INSERT INTO resident_months
SELECT coalesce(b.resident_id, g.resident_id), coalesce(b.month, g.month),
       coalesce(b.n, 0), coalesce(b.s, 0), coalesce(b.d, 0), coalesce(g.n, 0), coalesce(g.s, 0)
FROM (SELECT resident_id, date_trunc('month', measured_at AT TIME ZONE 'Asia/Shanghai')::date
             AS month, count(*) AS n, sum(systolic) AS s, sum(diastolic) AS d
      FROM blood_pressure_readings
      WHERE resident_id IS NOT NULL
        AND NOT coalesce(body_movement, false) AND NOT coalesce(cuff_loose, false)
      GROUP BY 1, 2) b
FULL JOIN (SELECT resident_id,
                  date_trunc('month', measured_at AT TIME ZONE 'Asia/Shanghai')::date AS month,
                  count(*) AS n, sum(glucose_mmol) AS s
           FROM glucose_readings
           WHERE resident_id IS NOT NULL AND meal = 'fasting' AND NOT control_solution
           GROUP BY 1, 2) g
    ON g.resident_id = b.resident_id AND g.month = b.month;

-- The community page's last 30 days of fasting glucose, beside the blood pressure's.
ALTER TABLE resident_summaries
    ADD COLUMN fasting_30d real,
    ADD COLUMN fasting_readings_30d integer NOT NULL DEFAULT 0;
-- Summaries written before these columns are computed again on their next read.
DELETE FROM resident_summaries;
