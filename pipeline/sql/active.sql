-- Who was active for each investment on each day of the windows ending $first..$last: focus of a user on an
-- investment's application that day (its raw identifiers summed) >= the application's min_s.
CREATE OR REPLACE TEMP TABLE inv_active AS
SELECT DISTINCT investment, "user", day FROM (
    SELECT ia.investment, ia.application, u."user", u.day
    FROM usage_user_daily u
    JOIN app_map m USING (app)
    JOIN investment_apps ia ON ia.application = m.application
    WHERE u.day BETWEEN $first - ($month_days - 1) AND $last
    GROUP BY ALL
    HAVING sum(u.focus_s) >= any_value(ia.min_s)
)
