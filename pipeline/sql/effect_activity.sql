-- People of the departments $departments by activity pattern: whether each was active for $investment (inv_active,
-- active.sql, must be filled) in the base, pre and post windows of an effect estimate (pipeline/domain/impact.py).
-- Only people with telemetry (a usage_user_daily row, any application) in both the pre and the post window are
-- counted, and `base` is NULL for one without telemetry in the base window: missing data is never non-use.
-- Counts only: no per-person row leaves the query.
WITH known AS (
    SELECT "user",
           bool_or(day BETWEEN $base_from AND $base_to) AS base,
           bool_or(day BETWEEN $pre_from AND $pre_to) AS pre,
           bool_or(day BETWEEN $post_from AND $post_to) AS post
    FROM usage_user_daily
    WHERE day BETWEEN $base_from AND least($post_to, $as_of)
    GROUP BY ALL
), active AS (
    SELECT "user",
           bool_or(day BETWEEN $base_from AND $base_to) AS base,
           bool_or(day BETWEEN $pre_from AND $pre_to) AS pre,
           bool_or(day BETWEEN $post_from AND $post_to) AS post
    FROM inv_active
    WHERE investment = $investment AND day BETWEEN $base_from AND least($post_to, $as_of)
    GROUP BY ALL
)
SELECT d.department,
       CASE WHEN k.base THEN coalesce(a.base, false) END AS base,
       coalesce(a.pre, false) AS pre,
       coalesce(a.post, false) AS post,
       count(*) AS people
FROM directory d
JOIN known k ON k."user" = d."user"
LEFT JOIN active a ON a."user" = d."user"
WHERE list_contains($departments, d.department) AND k.pre AND k.post
GROUP BY ALL
ORDER BY ALL
