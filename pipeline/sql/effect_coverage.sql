-- Per department of $departments and day $first..$last: the people with any telemetry in the 28-day window ending
-- that day, coverage's numerator, counted as daily.sql counts it for the investments' target populations.
WITH days AS (SELECT d::DATE AS day FROM range($first::TIMESTAMP, ($last + 1)::TIMESTAMP, INTERVAL 1 DAY) r(d))
SELECT u.department, d.day, count(DISTINCT r."user") AS reporting
FROM days d
JOIN (SELECT DISTINCT "user", day FROM usage_user_daily
      WHERE day BETWEEN $first - ($month_days - 1) AND $last) r
  ON r.day BETWEEN d.day - ($month_days - 1) AND d.day
JOIN directory u ON u."user" = r."user"
WHERE list_contains($departments, u.department)
GROUP BY ALL
