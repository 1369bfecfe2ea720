-- The departments each investment targets; one without target departments targets the whole directory.
INSERT INTO inv_targets
SELECT investment, department FROM investment_departments
UNION
SELECT i.investment, d.department FROM catalog_investments i, (SELECT DISTINCT department FROM directory) d
WHERE NOT EXISTS (SELECT 1 FROM investment_departments x WHERE x.investment = i.investment)
