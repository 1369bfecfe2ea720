-- Adoption per target department as of $last, for departments of at least $k people (inv_active filled).
-- Missing data is not zero use: below the investment's min_coverage (share of the department with any telemetry
-- in the 28-day window) the department's ratio is unknown (NULL), so nobody is named as lagging for it.
INSERT INTO department_adoption
WITH reporting AS (
    SELECT DISTINCT "user" FROM usage_user_daily WHERE day BETWEEN $last - ($month_days - 1) AND $last
)
SELECT t.investment, t.department, dep.population, count(DISTINCT a."user") AS active_users,
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
WHERE dep.population >= $k
GROUP BY t.investment, t.department, dep.population
