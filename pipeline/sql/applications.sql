-- Active users (28-day window ending at $last) of every application, catalogued or not; an
-- uncatalogued one is named by the identity rule of pipeline.domain.rules (app_name).
INSERT INTO application_activity
WITH daily AS (
    SELECT u."user", {{app_name(m.application, u.app)}} AS application, m.application IS NOT NULL AS in_catalog,
           u.day, sum(u.focus_s) AS focus_s
    FROM usage_user_daily u LEFT JOIN app_map m USING (app)
    WHERE u.day BETWEEN $last - ($month_days - 1) AND $last
    GROUP BY ALL
)
SELECT d.application, d.in_catalog, coalesce(a.sanctioned, false), a.capability, count(DISTINCT d."user")
FROM daily d LEFT JOIN catalog_applications a USING (application)
WHERE d.focus_s >= coalesce(a.min_s, $active_s)
GROUP BY ALL
