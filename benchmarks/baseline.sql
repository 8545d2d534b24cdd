-- The default policy pack (design, section 2) as hand-written DuckDB SQL: the yardstick
-- for the engine's nightly run and catch-up (benchmarks/bench_nightly.py).
--
-- Input: the canonical tables customers, purchases (with purchase_date) and stores, the
-- optional calendar, complaints and events (created empty here when absent: then the
-- policies reading them fire nothing), and two variables, the first and last business
-- date to evaluate:
--     SET VARIABLE first_day = DATE '2025-12-31';
--     SET VARIABLE last_day = DATE '2025-12-31';
-- Output: the last statement's rows, one per action: (policy, customer_id, as_of, key),
-- customer_id being the recipient (the referrer for the referrer's thank-you).
--
-- The pack's default params are written in as constants. Running values follow the
-- event order of design section 4 (purchased_at, then purchase_id); purchase_id is
-- unique in the canonical table. Only the customers whose running values can matter
-- in the range are windowed, so one night costs far less than the whole history.

CREATE TABLE IF NOT EXISTS calendar (date DATE, name VARCHAR, kind VARCHAR, region VARCHAR);
CREATE TABLE IF NOT EXISTS complaints (complaint_id VARCHAR, customer_id VARCHAR,
    store_id VARCHAR, received_at TIMESTAMP, channel VARCHAR, topic VARCHAR, severity VARCHAR);
CREATE TABLE IF NOT EXISTS events (event_id VARCHAR, kind VARCHAR, customer_id VARCHAR,
    store_id VARCHAR, occurred_at TIMESTAMP, attributes VARCHAR);

CREATE OR REPLACE TEMP MACRO b_tier(points) AS
    CASE WHEN points >= 50000 THEN 3 WHEN points >= 20000 THEN 2
         WHEN points >= 5000 THEN 1 ELSE 0 END;

-- The tier a year has reached by the end of `day`, from the dates its points first
-- reached each rung (NULL: not reached that year).
CREATE OR REPLACE TEMP MACRO b_reached(silver_day, gold_day, diamond_day, day) AS
    CASE WHEN diamond_day <= day THEN 3 WHEN gold_day <= day THEN 2
         WHEN silver_day <= day THEN 1 ELSE 0 END;

CREATE OR REPLACE TEMP TABLE b_jan1 AS
SELECT y, make_date(y, 1, 1) AS day
FROM range(year(getvariable('first_day')), year(getvariable('last_day')) + 1) AS t(y)
WHERE make_date(y, 1, 1) BETWEEN getvariable('first_day') AND getvariable('last_day');

CREATE OR REPLACE TEMP TABLE b_dates AS
SELECT getvariable('first_day') + i::INTEGER AS day
FROM range(getvariable('last_day') - getvariable('first_day') + 1) AS t(i);

-- Days on which the tier held decides a card holder's action: quarter days (the VIP
-- gathering's invitations) and Mother's Day, the second Sunday of May.
CREATE OR REPLACE TEMP TABLE b_vip_days AS
SELECT 'vip-gathering' AS policy, day FROM b_dates
WHERE day(day) = 1 AND month(day) IN (1, 4, 7, 10)
UNION ALL
SELECT 'mothers-day-gift', day FROM (
    SELECT make_date(y, 5, 1) + ((7 - isodow(make_date(y, 5, 1))) % 7 + 7)::INTEGER AS day
    FROM range(year(getvariable('first_day')), year(getvariable('last_day')) + 1) AS t(y))
WHERE day BETWEEN getvariable('first_day') AND getvariable('last_day');

-- Birthdays falling in the range; 29 February is greeted on 28 February in other years.
CREATE OR REPLACE TEMP TABLE b_birthdays AS
SELECT customer_id, day FROM (
    SELECT c.customer_id,
           CASE WHEN month(c.birthday) = 2 AND day(c.birthday) = 29
                     AND NOT (t.y % 4 = 0 AND (t.y % 100 <> 0 OR t.y % 400 = 0))
                THEN make_date(t.y, 2, 28)
                ELSE make_date(t.y, month(c.birthday), day(c.birthday)) END AS day
    FROM customers AS c
    CROSS JOIN range(year(getvariable('first_day')), year(getvariable('last_day')) + 1) AS t(y)
    WHERE c.birthday IS NOT NULL
)
WHERE day BETWEEN getvariable('first_day') AND getvariable('last_day');

-- Known customers whose running values matter: buyers in the range (purchase triggers,
-- tier upgrades), birthdays in the range (the discount needs the tier), and on
-- 1 January everyone who bought in the two years before (downgrades, top spenders).
CREATE OR REPLACE TEMP TABLE b_active AS
SELECT customer_id FROM customers
WHERE customer_id IN (
    SELECT customer_id FROM purchases
    WHERE purchase_date BETWEEN getvariable('first_day') AND getvariable('last_day')
    UNION ALL
    SELECT customer_id FROM b_birthdays
    UNION ALL
    SELECT customer_id FROM purchases
    WHERE year(purchase_date) IN (SELECT y - 1 FROM b_jan1 UNION SELECT y - 2 FROM b_jan1)
    UNION ALL
    SELECT customer_id FROM purchases
    WHERE purchase_date <= getvariable('last_day')
      AND year(purchase_date) IN (SELECT year(day) FROM b_vip_days
                                  UNION SELECT year(day) - 1 FROM b_vip_days)
);

-- Every receipt of those customers up to the last date, with the running values after it.
CREATE OR REPLACE TEMP TABLE b_events AS
SELECT customer_id, purchase_id, store_id, purchase_date AS day, amount,
       year(purchase_date) AS y,
       row_number() OVER w AS seq,
       sum(amount) OVER w AS lifetime_spend,
       floor(sum(amount) OVER (PARTITION BY customer_id, year(purchase_date)
                               ORDER BY purchased_at, purchase_id
                               ROWS UNBOUNDED PRECEDING)) AS points
FROM purchases
WHERE purchase_date <= getvariable('last_day')
  AND customer_id IN (SELECT customer_id FROM b_active)
WINDOW w AS (PARTITION BY customer_id ORDER BY purchased_at, purchase_id
             ROWS UNBOUNDED PRECEDING);

-- Per customer and year: net spend, the highest points reached, and the receipt (seq)
-- and date at which the points first reached each rung. Dates follow seq, so the
-- first date with points >= a rung is that receipt's date.
CREATE OR REPLACE TEMP TABLE b_years AS
SELECT customer_id, y, sum(amount) AS spend, max(points) AS max_points,
       min(seq) FILTER (WHERE points >= 5000) AS silver_seq,
       min(day) FILTER (WHERE points >= 5000) AS silver_day,
       min(seq) FILTER (WHERE points >= 20000) AS gold_seq,
       min(day) FILTER (WHERE points >= 20000) AS gold_day,
       min(seq) FILTER (WHERE points >= 50000) AS diamond_seq,
       min(day) FILTER (WHERE points >= 50000) AS diamond_day
FROM b_events
GROUP BY customer_id, y;

-- ABC classes by spend over (D-365, D] within the home store, only on the (store, day)
-- pairs that can fire: every store on the 1st of a month and the pre-season days, and
-- the home store of a big purchase's buyer on its day. Only positive spend can be A,
-- and only positive spends are above a positive one, so the rest are left out.
CREATE OR REPLACE TEMP TABLE b_class_days AS
SELECT DISTINCT c.home_store AS store, d.day
FROM b_dates AS d CROSS JOIN (SELECT DISTINCT home_store FROM customers) AS c
WHERE c.home_store IS NOT NULL
  AND (day(d.day) = 1 OR (day(d.day) = 20 AND month(d.day) IN (2, 8)))
UNION
SELECT c.home_store, p.purchase_date
FROM purchases AS p JOIN customers AS c USING (customer_id)
WHERE p.amount >= 2000 AND c.home_store IS NOT NULL
  AND p.purchase_date BETWEEN getvariable('first_day') AND getvariable('last_day');

CREATE OR REPLACE TEMP TABLE b_a_class AS
WITH daily AS (
    SELECT c.home_store AS store, p.customer_id, p.purchase_date AS day,
           sum(p.amount) AS amount
    FROM purchases AS p JOIN customers AS c USING (customer_id)
    WHERE p.purchase_date BETWEEN getvariable('first_day') - 364 AND getvariable('last_day')
      AND c.home_store IN (SELECT store FROM b_class_days)
    GROUP BY ALL
),
spend_365d AS (
    SELECT d.store, d.day, t.customer_id, sum(t.amount) AS m
    FROM b_class_days AS d
    JOIN daily AS t ON t.store = d.store AND t.day BETWEEN d.day - 364 AND d.day
    GROUP BY ALL
    HAVING sum(t.amount) > 0
),
levels AS (  -- tied customers share G: one row per distinct value
    SELECT store, day, m, sum(m) AS tied FROM spend_365d GROUP BY ALL
),
cuts AS (
    SELECT store, day, m,
           sum(tied) OVER (PARTITION BY store, day ORDER BY m DESC
                           ROWS UNBOUNDED PRECEDING) - tied AS above,
           sum(tied) OVER (PARTITION BY store, day) AS total
    FROM levels
)
SELECT s.store, s.day, s.customer_id
FROM spend_365d AS s JOIN cuts AS k USING (store, day, m)
WHERE k.above < 0.8 * k.total;

-- Card holders on the quarter days and Mother's Day: the tier held is the higher of
-- the one reached this year by D and last year's.
CREATE OR REPLACE TEMP TABLE b_vips AS
SELECT v.policy, v.day, k.customer_id
FROM b_vip_days AS v
JOIN (SELECT DISTINCT customer_id, y FROM b_years) AS k
  ON k.y = year(v.day) OR k.y = year(v.day) - 1
LEFT JOIN b_years AS cur ON cur.customer_id = k.customer_id AND cur.y = year(v.day)
LEFT JOIN b_years AS ly ON ly.customer_id = k.customer_id AND ly.y = year(v.day) - 1
GROUP BY v.policy, v.day, k.customer_id, cur.silver_day, cur.gold_day, cur.diamond_day,
         ly.max_points
HAVING greatest(b_reached(cur.silver_day, cur.gold_day, cur.diamond_day, v.day),
                b_tier(coalesce(ly.max_points, 0))) >= 1;

WITH
big_purchases AS (
    SELECT 'big-purchase-call' AS policy, customer_id, day AS as_of, purchase_id AS key
    FROM b_events
    WHERE amount >= 2000 AND day BETWEEN getvariable('first_day') AND getvariable('last_day')
),
referrals AS (
    SELECT e.customer_id, c.referred_by, e.day, e.purchase_id
    FROM b_events AS e
    JOIN customers AS c USING (customer_id)
    WHERE e.seq = 1 AND e.day BETWEEN getvariable('first_day') AND getvariable('last_day')
      AND c.referred_by IN (SELECT customer_id FROM customers)
),
referral_actions AS (
    SELECT 'referral-thanks' AS policy,
           CASE WHEN a.i = 0 THEN r.referred_by ELSE r.customer_id END AS customer_id,
           r.day AS as_of, r.purchase_id || '#' || a.i AS key
    FROM referrals AS r CROSS JOIN range(3) AS a(i)
),
crossings AS (
    SELECT 'cumulative-thanks' AS policy, customer_id, min(day) AS as_of, '10000' AS key
    FROM b_events WHERE lifetime_spend >= 10000
    GROUP BY customer_id
    HAVING min(day) BETWEEN getvariable('first_day') AND getvariable('last_day')
),
-- A rung fires at the receipt that first reaches it in a year, unless the same receipt
-- also reaches the next rung, or the tier already held (last year's, and on 1 January
-- the one held on 31 December, i.e. also the year before's) is at least that rung.
rungs AS (
    SELECT customer_id, y, 1 AS rung, 'silver' AS name, silver_seq AS at_seq,
           silver_day AS at_day, gold_seq AS next_seq FROM b_years
    UNION ALL
    SELECT customer_id, y, 2, 'gold', gold_seq, gold_day, diamond_seq FROM b_years
    UNION ALL
    SELECT customer_id, y, 3, 'diamond', diamond_seq, diamond_day, NULL FROM b_years
),
upgrades AS (
    SELECT 'vip-tiers' AS policy, r.customer_id, r.at_day AS as_of, r.y || ':' || r.name AS key
    FROM rungs AS r
    LEFT JOIN b_years AS ly ON ly.customer_id = r.customer_id AND ly.y = r.y - 1
    LEFT JOIN b_years AS l2 ON l2.customer_id = r.customer_id AND l2.y = r.y - 2
    WHERE r.at_day BETWEEN getvariable('first_day') AND getvariable('last_day')
      AND (r.next_seq IS NULL OR r.next_seq > r.at_seq)
      AND b_tier(coalesce(ly.max_points, 0)) < r.rung
      AND NOT (month(r.at_day) = 1 AND day(r.at_day) = 1
               AND b_tier(coalesce(l2.max_points, 0)) >= r.rung)
),
downgrade_candidates AS (
    SELECT b.customer_id, j.y, j.day FROM b_years AS b JOIN b_jan1 AS j ON b.y = j.y - 1
    UNION
    SELECT b.customer_id, j.y, j.day FROM b_years AS b JOIN b_jan1 AS j ON b.y = j.y - 2
),
downgrades AS (
    SELECT 'vip-tiers' AS policy, d.customer_id, d.day AS as_of, d.y || ':down' AS key
    FROM downgrade_candidates AS d
    LEFT JOIN b_years AS cur ON cur.customer_id = d.customer_id AND cur.y = d.y
    LEFT JOIN b_years AS ly ON ly.customer_id = d.customer_id AND ly.y = d.y - 1
    LEFT JOIN b_years AS l2 ON l2.customer_id = d.customer_id AND l2.y = d.y - 2
    WHERE greatest(b_reached(cur.silver_day, cur.gold_day, cur.diamond_day, d.day),
                   b_tier(coalesce(ly.max_points, 0)))
          < greatest(b_tier(coalesce(ly.max_points, 0)), b_tier(coalesce(l2.max_points, 0)))
),
top_spenders AS (
    SELECT 'top-spender-flowers' AS policy, customer_id, day AS as_of, y::VARCHAR AS key
    FROM (
        SELECT b.customer_id, j.day, j.y, b.spend,
               max(b.spend) OVER (PARTITION BY coalesce(c.region, 'default'), j.y) AS top
        FROM b_jan1 AS j
        JOIN b_years AS b ON b.y = j.y - 1
        JOIN customers AS c USING (customer_id)
    )
    WHERE spend = top AND spend > 0
),
birthday_actions AS (
    SELECT 'birthday-greeting' AS policy, b.customer_id, b.day AS as_of,
           b.day::VARCHAR || '#' || a.i AS key
    FROM b_birthdays AS b
    CROSS JOIN range(2) AS a(i)
    LEFT JOIN b_years AS cur ON cur.customer_id = b.customer_id AND cur.y = year(b.day)
    LEFT JOIN b_years AS ly ON ly.customer_id = b.customer_id AND ly.y = year(b.day) - 1
    WHERE a.i = 0
       OR greatest(b_reached(cur.silver_day, cur.gold_day, cur.diamond_day, b.day),
                   b_tier(coalesce(ly.max_points, 0))) >= 1
),
-- Lapsed: D is 90 days after a positive purchase date with no positive purchase in
-- between (nor on D). Only receipts from 90 days before the range can matter.
positive_days AS (
    SELECT DISTINCT customer_id, purchase_date AS day
    FROM purchases
    WHERE amount > 0
      AND purchase_date BETWEEN getvariable('first_day') - 90 AND getvariable('last_day')
      AND customer_id IN (SELECT customer_id FROM customers)
),
lapses AS (
    SELECT 'lapsed-contact' AS policy, customer_id, day + 90 AS as_of,
           (day + 90)::VARCHAR AS key
    FROM (SELECT customer_id, day,
                 lead(day) OVER (PARTITION BY customer_id ORDER BY day) AS next_day
          FROM positive_days)
    WHERE day + 90 BETWEEN getvariable('first_day') AND getvariable('last_day')
      AND (next_day IS NULL OR next_day > day + 90)
),
-- The quarter's invitations: a store's seats (12) go to its card holders with the
-- highest lifetime spend at the end of D (ties: the smaller id); the store is the home
-- store, else that of the last receipt above zero.
guests AS (
    SELECT v.day, v.customer_id,
           coalesce(c.home_store, arg_max(e.store_id, e.seq) FILTER (WHERE e.amount > 0))
               AS store,
           arg_max(e.lifetime_spend, e.seq) AS lifetime_spend
    FROM b_vips AS v
    JOIN b_events AS e ON e.customer_id = v.customer_id AND e.day <= v.day
    JOIN customers AS c ON c.customer_id = v.customer_id
    WHERE v.policy = 'vip-gathering'
    GROUP BY v.day, v.customer_id, c.home_store
),
gatherings AS (
    SELECT 'vip-gathering' AS policy, customer_id, day AS as_of,
           day::VARCHAR || ':' || store AS key
    FROM guests
    QUALIFY row_number() OVER (PARTITION BY store, day
                               ORDER BY lifetime_spend DESC, customer_id) <= 12
),
mothers_day AS (
    SELECT policy, customer_id, day AS as_of, day::VARCHAR AS key
    FROM b_vips WHERE policy = 'mothers-day-gift'
),
a_class_calls AS (
    SELECT CASE WHEN day(day) = 1 THEN 'a-class-monthly-call'
                ELSE 'a-class-preseason-call' END AS policy,
           customer_id, day AS as_of, day::VARCHAR AS key
    FROM b_a_class
    WHERE day(day) = 1 OR (day(day) = 20 AND month(day) IN (2, 8))
),
a_class_cards AS (
    SELECT 'a-class-thanks-card' AS policy, p.customer_id, p.purchase_date AS as_of,
           p.purchase_id AS key
    FROM purchases AS p
    JOIN customers AS c USING (customer_id)
    JOIN b_a_class AS a
      ON a.customer_id = p.customer_id AND a.store = c.home_store AND a.day = p.purchase_date
    WHERE p.amount >= 2000
      AND p.purchase_date BETWEEN getvariable('first_day') AND getvariable('last_day')
),
-- Greetings of the calendar's holidays and seasons: one per name of the day held
-- everywhere or in the customer's region (case does not count), to customers with a
-- receipt up to D.
greeting_days AS (
    SELECT DISTINCT CASE lower(kind) WHEN 'holiday' THEN 'holiday-greeting'
                                     ELSE 'season-greeting' END AS policy,
           date AS day, lower(name) AS name, nullif(region, '') AS region
    FROM calendar
    WHERE lower(kind) IN ('holiday', 'season')
      AND date BETWEEN getvariable('first_day') AND getvariable('last_day')
),
first_receipts AS (
    SELECT customer_id, min(purchase_date) AS first_day
    FROM purchases
    WHERE purchase_date <= (SELECT max(day) FROM greeting_days)
    GROUP BY customer_id
),
greetings AS (
    SELECT g.policy, c.customer_id, g.day AS as_of, g.day::VARCHAR || ':' || g.name AS key
    FROM (SELECT DISTINCT policy, day, name, region FROM greeting_days) AS g
    JOIN customers AS c ON g.region IS NULL OR g.region = coalesce(c.region, 'default')
    JOIN first_receipts AS f ON f.customer_id = c.customer_id AND f.first_day <= g.day
    QUALIFY row_number() OVER (PARTITION BY g.policy, c.customer_id, g.day, g.name) = 1
),
complaint_replies AS (
    SELECT DISTINCT 'complaint-reply' AS policy, k.customer_id,
           k.received_at::DATE AS as_of, k.complaint_id AS key
    FROM complaints AS k
    WHERE k.received_at::DATE BETWEEN getvariable('first_day') AND getvariable('last_day')
      AND k.customer_id IN (SELECT customer_id FROM customers)
),
email_replies AS (
    SELECT DISTINCT 'email-reply' AS policy, e.customer_id,
           e.occurred_at::DATE AS as_of, e.event_id AS key
    FROM events AS e
    WHERE lower(e.kind) = 'email'
      AND e.occurred_at::DATE BETWEEN getvariable('first_day') AND getvariable('last_day')
      AND e.customer_id IN (SELECT customer_id FROM customers)
)
SELECT * FROM big_purchases
UNION ALL SELECT * FROM referral_actions
UNION ALL SELECT * FROM crossings
UNION ALL SELECT * FROM upgrades
UNION ALL SELECT * FROM downgrades
UNION ALL SELECT * FROM top_spenders
UNION ALL SELECT * FROM birthday_actions
UNION ALL SELECT * FROM lapses
UNION ALL SELECT * FROM gatherings
UNION ALL SELECT * FROM mothers_day
UNION ALL SELECT * FROM a_class_calls
UNION ALL SELECT * FROM a_class_cards
UNION ALL SELECT * FROM greetings
UNION ALL SELECT * FROM complaint_replies
UNION ALL SELECT * FROM email_replies;
