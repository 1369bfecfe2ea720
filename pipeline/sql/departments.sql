-- Adoption per target department as of $last, for departments of at least $k people (inv_active filled); the
-- refresh adds the investment's planned ratio and the gap once adoption_current is written.
-- Missing data is not zero use: below the investment's min_coverage (share of the department with any telemetry
-- in the 28-day window) the department's ratio is unknown (NULL), so nobody is named as lagging for it; with
-- nobody reporting (coverage 0) its count of active users is unknown too, not 0.
-- Secondary suppression: the investment's totals are published, so the departments left out must together hold
-- 0 or at least $k people, else their figures follow by subtraction: the smallest shown departments are left out
-- too until they do.
INSERT INTO department_adoption BY NAME
WITH reporting AS (
    SELECT DISTINCT "user" FROM usage_user_daily WHERE day BETWEEN $last - ($month_days - 1) AND $last
),
figures AS (
    SELECT t.investment, t.department, dep.population,
           CASE WHEN count(DISTINCT r."user") > 0 THEN count(DISTINCT a."user") END AS active_users,
           CASE WHEN count(DISTINCT r."user") / dep.population >= any_value(i.min_coverage)
                THEN count(DISTINCT a."user") / dep.population END AS adoption_ratio,
           count(DISTINCT r."user") / dep.population AS coverage
    FROM inv_targets t
    JOIN catalog_investments i USING (investment)
    JOIN (SELECT department, count(*) AS population FROM directory GROUP BY ALL) dep USING (department)
    LEFT JOIN directory u ON u.department = t.department
    LEFT JOIN inv_active a ON a.investment = t.investment AND a."user" = u."user"
        AND a.day BETWEEN $last - ($month_days - 1) AND $last
    LEFT JOIN reporting r ON r."user" = u."user"
    GROUP BY t.investment, t.department, dep.population
),
ranked AS (  -- small departments first, then the rest from the smallest: what is left out before each row
    SELECT *, coalesce(sum(population) FILTER (WHERE population < $k) OVER (PARTITION BY investment), 0) AS small,
           coalesce(sum(population) OVER (PARTITION BY investment ORDER BY population < $k DESC, population, department
                                          ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS left_out
    FROM figures
)
SELECT investment, department, population, active_users, adoption_ratio, coverage, $last AS as_of
FROM ranked
WHERE population >= $k AND (small = 0 OR left_out >= $k)
