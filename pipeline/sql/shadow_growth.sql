-- Growth of each shadow-IT application's active users (28-day) over each window of $growth_days days: its active
-- users as of $last (application_activity, written just before) minus its active users as of the earlier day
-- $last - days, counted the same way (the same application identity, catalog and active-day rule as
-- applications.sql) from the daily rollups. docs/metrics.md, "Shadow IT growth".
-- The earlier day must be known: the rollups hold its whole 28-day window (telemetry had begun by the window's first
-- day, and retention has not deleted it) and some telemetry in it. A window that starts before the telemetry does, or
-- that retention cut, under-counts its users, and every user it misses would count as growth: no row then (missing
-- data is never zero use).
-- k-anonymity: today's count is published (the shadow_it view, >= $k), so the growth gives the earlier count by
-- subtraction: a row needs that earlier count to be 0 or at least $k.
INSERT INTO shadow_it_growth
WITH shadow AS (
    SELECT application, in_catalog, active_users FROM application_activity WHERE NOT sanctioned AND active_users >= $k
),
earlier_days AS (
    SELECT w.days, $last - w.days AS day FROM (SELECT unnest($growth_days)::INTEGER AS days) w
),
known AS (
    SELECT e.days, e.day FROM earlier_days e
    WHERE (SELECT min(day) FROM usage_user_daily) <= e.day - ($month_days - 1)
      AND EXISTS (SELECT 1 FROM usage_user_daily u WHERE u.day BETWEEN e.day - ($month_days - 1) AND e.day)
),
daily AS (
    SELECT k.days, u."user", {{app_name(m.application, u.app)}} AS application,
           m.application IS NOT NULL AS in_catalog, u.day, sum(u.focus_s) AS focus_s
    FROM known k
    JOIN usage_user_daily u ON u.day BETWEEN k.day - ($month_days - 1) AND k.day
    LEFT JOIN app_map m USING (app)
    GROUP BY ALL
),
earlier AS (
    SELECT d.days, d.application, d.in_catalog, count(DISTINCT d."user") AS users
    FROM daily d LEFT JOIN catalog_applications a USING (application)
    WHERE d.focus_s >= coalesce(a.min_s, $active_s) AND d.application IN (SELECT application FROM shadow)
    GROUP BY ALL
)
SELECT s.application, k.days, s.active_users - coalesce(e.users, 0)
FROM shadow s
CROSS JOIN known k
LEFT JOIN earlier e ON e.application = s.application AND e.in_catalog = s.in_catalog AND e.days = k.days
WHERE coalesce(e.users, 0) = 0 OR e.users >= $k
