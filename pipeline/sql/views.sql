-- The analysts' surface (docs/analysts.md documents every column). Only these views are k-safe; the raw
-- tables (events, usage_user_daily) hold per-user rows for the privacy role alone. Views take no parameters:
-- the {{...}} placeholders are formatted in from pipeline.domain.rules when they are installed.

-- adoption_daily_all is the series on every day the pipeline computed, days before an investment's go-live too (the
-- refresh reads it: MAU, population and coverage are counted before go-live as well); analysts get adoption_daily,
-- the same rows from each investment's go-live (docs/analysts.md).
CREATE OR REPLACE VIEW adoption_daily_all AS
SELECT s.day, s.investment, i.name, i.initiative, i.objective,
       -- A target population of 1 to k - 1 people shows nothing about their use (docs/metrics.md, privacy).
       CASE WHEN NOT small THEN s.dau END AS dau, CASE WHEN NOT small THEN s.wau END AS wau,
       CASE WHEN NOT small THEN s.mau END AS mau, CASE WHEN NOT small THEN s.mau_target END AS active_target,
       CASE WHEN NOT small THEN s.population END AS population,
       -- A day with coverage 0 has no data: its ratio is NULL, never 0 (docs/metrics.md, data completeness).
       CASE WHEN r.has_directory AND s.population > 0 AND NOT small AND s.reporting > 0
            THEN s.mau_target / s.population END AS adoption_ratio,
       CASE WHEN r.has_directory AND s.population > 0 AND NOT small THEN s.reporting / s.population END AS coverage,
       CASE WHEN s.day < i.go_live THEN NULL
            ELSE i.target_ratio * (CASE WHEN i.curve = 'linear' THEN x
                 ELSE (1 / (1 + exp(-{{steepness}} * (x - 0.5))) - 1 / (1 + exp({{half_steepness}})))
                      / (1 / (1 + exp(-{{half_steepness}})) - 1 / (1 + exp({{half_steepness}})))
            END) END AS planned_ratio,
       i.go_live
FROM adoption_series s
JOIN catalog_investments i USING (investment)
CROSS JOIN refresh_state r
CROSS JOIN LATERAL (SELECT coalesce(s.population > 0 AND s.population < r.k, false) AS small)
-- x: progress from go-live to the target date; a target due on the go-live day is planned whole from then on.
CROSS JOIN LATERAL (SELECT CASE WHEN i.target_date <= i.go_live THEN 1
                                ELSE greatest(0, least(1, (s.day - i.go_live) / (i.target_date - i.go_live))) END
                    AS x);

CREATE OR REPLACE VIEW adoption_daily AS
SELECT * EXCLUDE (go_live) FROM adoption_daily_all WHERE day >= go_live;

-- A person's raw identifiers of one application are added up before the active-day threshold, as everywhere.
-- A row needs k people using the application that day. The departments left out of a day and application must then
-- hold none or at least k people (directory sizes) together, or adoption_daily's organisation-wide counts minus the
-- shown rows would give theirs: the smallest shown departments are left out as well until they do.
CREATE OR REPLACE VIEW usage_daily AS
WITH per_user AS (
    SELECT u.day, {{app_key(m.application, u.app)}} AS application, u."user",
           sum(u.focus_s) AS focus_s, sum(u.open_s) AS open_s, sum(u.launches) AS launches
    FROM usage_user_daily u LEFT JOIN app_map m USING (app)
    GROUP BY ALL
),
sizes AS (SELECT department, count(*) AS population FROM directory GROUP BY ALL),
big AS (
    SELECT p.day, p.application, d.department,
           count(DISTINCT p."user") AS users,
           count(DISTINCT p."user") FILTER (WHERE p.focus_s >= coalesce(a.min_s, {{active_s}})) AS active_users,
           sum(p.focus_s) / 60 AS focus_minutes, sum(p.open_s) / 60 AS open_minutes, sum(p.launches) AS launches
    FROM per_user p
    LEFT JOIN catalog_applications a USING (application)
    JOIN directory d USING ("user")
    GROUP BY ALL
    HAVING count(DISTINCT p."user") >= (SELECT k FROM refresh_state)
),
ranked AS (
    SELECT b.*, (SELECT sum(population) FROM sizes) - sum(s.population) OVER (PARTITION BY b.day, b.application)
               AS left_out,
           coalesce(sum(s.population) OVER (PARTITION BY b.day, b.application ORDER BY s.population, b.department
                                            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before
    FROM big b JOIN sizes s USING (department)
)
SELECT day, application, department, users, active_users, focus_minutes, open_minutes, launches
FROM ranked
WHERE left_out = 0 OR left_out + before >= (SELECT k FROM refresh_state);

CREATE OR REPLACE VIEW shadow_it AS
SELECT application, in_catalog, sanctioned, capability, active_users, (SELECT as_of FROM refresh_state) AS as_of
FROM application_activity
WHERE NOT sanctioned AND active_users >= (SELECT k FROM refresh_state);

CREATE OR REPLACE VIEW rejected_events_summary AS
SELECT split_part(reason, ':', 1) AS field, count(*) AS events, min(received_at) AS first_seen,
       max(received_at) AS last_seen, any_value(reason) AS example_reason
FROM rejected_events GROUP BY ALL ORDER BY events DESC;

-- The privacy role's, never published (per person): the devices silent for more than ALIGNMON_SILENT_DAYS days as of
-- the last refresh, with the pseudonyms and department to ask about them; IT operations sees only their k-safe count.
CREATE OR REPLACE VIEW silent_devices AS
SELECT as_of, device_id, source, "user", department, last_day, days_silent
FROM collector_devices WHERE silent ORDER BY days_silent DESC, device_id;
