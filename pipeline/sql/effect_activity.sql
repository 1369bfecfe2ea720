-- People of the departments $departments by activity pattern: whether each was active for $investment (inv_active,
-- active.sql, must be filled) in the base, pre and post windows of an effect estimate (pipeline/domain/impact.py).
-- Counts only: no per-person row leaves the query.
WITH people AS (
    SELECT d.department, d."user",
           count(a.day) FILTER (WHERE a.day BETWEEN $base_from AND $base_to) > 0 AS base,
           count(a.day) FILTER (WHERE a.day BETWEEN $pre_from AND $pre_to) > 0 AS pre,
           count(a.day) FILTER (WHERE a.day BETWEEN $post_from AND $post_to) > 0 AS post
    FROM directory d
    LEFT JOIN inv_active a ON a."user" = d."user" AND a.investment = $investment
    WHERE list_contains($departments, d.department)
    GROUP BY ALL
)
SELECT department, base, pre, post, count(*) AS people FROM people GROUP BY ALL ORDER BY ALL
