-- The grid's word search (SPEC §7): a keyword word must be the start of the
-- name or the email read from a word boundary on (after a space, @ . - _ +).
-- customer_search_words holds, for every customer, each such boundary suffix of
-- name_key and email_key cut to 12 characters, so a keyword word is a prefix
-- range on `word` (the store checks the full word on the rows it finds).
-- Triggers keep it in step with every writer of customers (sign-up, demo-data,
-- the Magento import, …), so no insert path can forget it.

-- 1..600: every character position of a name_key (≤ 511) or email_key (≤ 254).
CREATE TABLE search_positions (n INTEGER PRIMARY KEY);
WITH RECURSIVE p(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM p WHERE n < 600)
INSERT INTO search_positions (n) SELECT n FROM p;

CREATE TABLE customer_search_words (
    word        TEXT    NOT NULL,
    customer_id INTEGER NOT NULL,
    PRIMARY KEY (word, customer_id)
) WITHOUT ROWID;

-- The boundary suffixes of one key: position 1, or after a separator, and not
-- itself a separator.
INSERT INTO customer_search_words (word, customer_id)
SELECT DISTINCT substr(k.key, p.n, 12), k.id
FROM (SELECT id, name_key AS key FROM customers
      UNION ALL SELECT id, email_key FROM customers) k
JOIN search_positions p ON p.n <= length(k.key)
WHERE (p.n = 1 OR substr(k.key, p.n - 1, 1) IN (' ', '@', '.', '-', '_', '+'))
  AND substr(k.key, p.n, 1) NOT IN (' ', '@', '.', '-', '_', '+')
ORDER BY 1, 2;

CREATE TRIGGER customers_search_words_insert AFTER INSERT ON customers
BEGIN
    INSERT OR IGNORE INTO customer_search_words (word, customer_id)
    SELECT substr(k.key, p.n, 12), NEW.id
    FROM (SELECT NEW.name_key AS key UNION ALL SELECT NEW.email_key) k
    JOIN search_positions p ON p.n <= length(k.key)
    WHERE (p.n = 1 OR substr(k.key, p.n - 1, 1) IN (' ', '@', '.', '-', '_', '+'))
      AND substr(k.key, p.n, 1) NOT IN (' ', '@', '.', '-', '_', '+');
END;

CREATE TRIGGER customers_search_words_delete AFTER DELETE ON customers
BEGIN
    DELETE FROM customer_search_words
    WHERE customer_id = OLD.id AND word IN (
        SELECT substr(k.key, p.n, 12)
        FROM (SELECT OLD.name_key AS key UNION ALL SELECT OLD.email_key) k
        JOIN search_positions p ON p.n <= length(k.key)
        WHERE (p.n = 1 OR substr(k.key, p.n - 1, 1) IN (' ', '@', '.', '-', '_', '+'))
          AND substr(k.key, p.n, 1) NOT IN (' ', '@', '.', '-', '_', '+'));
END;

CREATE TRIGGER customers_search_words_update AFTER UPDATE OF name_key, email_key ON customers
WHEN OLD.name_key IS NOT NEW.name_key OR OLD.email_key IS NOT NEW.email_key
BEGIN
    DELETE FROM customer_search_words
    WHERE customer_id = OLD.id AND word IN (
        SELECT substr(k.key, p.n, 12)
        FROM (SELECT OLD.name_key AS key UNION ALL SELECT OLD.email_key) k
        JOIN search_positions p ON p.n <= length(k.key)
        WHERE (p.n = 1 OR substr(k.key, p.n - 1, 1) IN (' ', '@', '.', '-', '_', '+'))
          AND substr(k.key, p.n, 1) NOT IN (' ', '@', '.', '-', '_', '+'));
    INSERT OR IGNORE INTO customer_search_words (word, customer_id)
    SELECT substr(k.key, p.n, 12), NEW.id
    FROM (SELECT NEW.name_key AS key UNION ALL SELECT NEW.email_key) k
    JOIN search_positions p ON p.n <= length(k.key)
    WHERE (p.n = 1 OR substr(k.key, p.n - 1, 1) IN (' ', '@', '.', '-', '_', '+'))
      AND substr(k.key, p.n, 1) NOT IN (' ', '@', '.', '-', '_', '+');
END;

-- Live API tokens by expiry, for the Active API Tokens sort and filter: the
-- customers holding a live token are found without reading every customer.
CREATE INDEX api_tokens_live ON api_tokens (expires_at, customer_id) WHERE revoked_at IS NULL;
