-- Adoption per target department as of $last, for departments of at least $k people (inv_active filled).
INSERT INTO department_adoption
SELECT t.investment, t.department, dep.population, count(DISTINCT a."user") AS active_users,
       count(DISTINCT a."user") / dep.population AS adoption_ratio
FROM inv_targets t
JOIN (SELECT department, count(*) AS population FROM directory GROUP BY ALL) dep USING (department)
LEFT JOIN directory u ON u.department = t.department
LEFT JOIN inv_active a ON a.investment = t.investment AND a."user" = u."user"
    AND a.day BETWEEN $last - ($month_days - 1) AND $last
WHERE dep.population >= $k
GROUP BY t.investment, t.department, dep.population
