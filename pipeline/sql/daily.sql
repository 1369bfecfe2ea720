-- One adoption_series row per investment and day from $first to $last (inv_active must be filled).
-- Everyone is in exactly one department, so population, coverage and target-population activity are
-- counted per department and summed over an investment's target departments (inv_targets): the
-- cost follows departments x days, not investments x people x days.
INSERT INTO adoption_series
WITH days AS (SELECT d::DATE AS day FROM range($first::TIMESTAMP, ($last + 1)::TIMESTAMP, INTERVAL 1 DAY) r(d)),
users AS (
    SELECT i.investment, d.day,
           count(DISTINCT a."user") FILTER (WHERE a.day = d.day) AS dau,
           count(DISTINCT a."user") FILTER (WHERE a.day > d.day - $week_days) AS wau,
           count(DISTINCT a."user") AS mau,
           count(DISTINCT a."user") FILTER (WHERE t.department IS NOT NULL) AS mau_target
    FROM catalog_investments i CROSS JOIN days d
    LEFT JOIN inv_active a ON a.investment = i.investment AND a.day BETWEEN d.day - ($month_days - 1) AND d.day
    LEFT JOIN directory u ON u."user" = a."user"
    LEFT JOIN inv_targets t ON t.investment = i.investment AND t.department = u.department
    GROUP BY ALL
),
reporting_by_department AS (
    SELECT u.department, d.day, count(DISTINCT r."user") AS reporting
    FROM days d
    JOIN (SELECT DISTINCT "user", day FROM usage_user_daily
          WHERE day BETWEEN $first - ($month_days - 1) AND $last) r
      ON r.day BETWEEN d.day - ($month_days - 1) AND d.day
    JOIN directory u ON u."user" = r."user"
    GROUP BY ALL
),
reporting AS (
    SELECT t.investment, r.day, sum(r.reporting) AS reporting
    FROM inv_targets t JOIN reporting_by_department r USING (department)
    GROUP BY ALL
),
population AS (
    SELECT t.investment, count(*) AS population
    FROM inv_targets t JOIN directory u USING (department)
    GROUP BY ALL
)
SELECT u.day, u.investment, u.dau, u.wau, u.mau, u.mau_target, p.population, coalesce(r.reporting, 0) AS reporting
FROM users u
LEFT JOIN population p USING (investment)
LEFT JOIN reporting r USING (investment, day)
