-- The grid's word search (SPEC §7): a keyword word must be the start of the
-- name or the email read from a word boundary on (after a space, @ . - _ +).
-- customer_search_words holds, for every customer, each such boundary suffix of
-- name_key and email_key cut to 12 characters, so a keyword word is a prefix
-- range on `word` (the store checks the full word on the rows it finds).
-- Triggers keep it in step with every writer of customers (sign-up, demo-data,
-- the Magento import, …), so no insert path can forget it. Inserts use a
-- statement trigger over the new rows, so a bulk load pays once per statement.

-- 1..600: every character position of a name_key (≤ 511) or email_key (≤ 254).
CREATE TABLE search_positions (n INTEGER PRIMARY KEY);
INSERT INTO search_positions (n) SELECT generate_series(1, 600);

-- Byte-wise like the keys (see 0002), so a prefix is a plain range.
CREATE TABLE customer_search_words (
    word        TEXT COLLATE "C" NOT NULL,
    customer_id BIGINT NOT NULL
);

-- The boundary suffixes of (id, key) pairs: position 1, or after a separator,
-- and not itself a separator.
CREATE FUNCTION search_words_of(keys TEXT[], ids BIGINT[])
RETURNS TABLE (word TEXT, customer_id BIGINT) LANGUAGE sql STABLE AS $$
    SELECT DISTINCT substr(k.key, p.n, 12), k.id
    FROM unnest(keys, ids) AS k(key, id)
    JOIN search_positions p ON p.n <= length(k.key)
    WHERE (p.n = 1 OR substr(k.key, p.n - 1, 1) IN (' ', '@', '.', '-', '_', '+'))
      AND substr(k.key, p.n, 1) NOT IN (' ', '@', '.', '-', '_', '+')
$$;

INSERT INTO customer_search_words (word, customer_id)
SELECT DISTINCT substr(k.key, p.n, 12), k.id
FROM (SELECT id, name_key AS key FROM customers
      UNION ALL SELECT id, email_key FROM customers) k
JOIN search_positions p ON p.n <= length(k.key)
WHERE (p.n = 1 OR substr(k.key, p.n - 1, 1) IN (' ', '@', '.', '-', '_', '+'))
  AND substr(k.key, p.n, 1) NOT IN (' ', '@', '.', '-', '_', '+');
ALTER TABLE customer_search_words ADD PRIMARY KEY (word, customer_id);

CREATE FUNCTION customers_search_words_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO customer_search_words (word, customer_id)
    SELECT w.word, w.customer_id
    FROM (SELECT array_agg(key) AS keys, array_agg(id) AS ids
          FROM (SELECT id, name_key AS key FROM new_rows
                UNION ALL SELECT id, email_key FROM new_rows) k) a,
         search_words_of(a.keys, a.ids) w
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER customers_search_words_insert AFTER INSERT ON customers
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION customers_search_words_insert();

CREATE FUNCTION customers_search_words_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM customer_search_words w
    USING search_words_of(ARRAY[OLD.name_key, OLD.email_key], ARRAY[OLD.id, OLD.id]) o
    WHERE w.word = o.word AND w.customer_id = o.customer_id;
    IF TG_OP = 'UPDATE' THEN
        INSERT INTO customer_search_words (word, customer_id)
        SELECT word, customer_id
        FROM search_words_of(ARRAY[NEW.name_key, NEW.email_key], ARRAY[NEW.id, NEW.id])
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER customers_search_words_delete AFTER DELETE ON customers
    FOR EACH ROW EXECUTE FUNCTION customers_search_words_delete();
CREATE TRIGGER customers_search_words_update AFTER UPDATE OF name_key, email_key ON customers
    FOR EACH ROW
    WHEN (OLD.name_key IS DISTINCT FROM NEW.name_key OR OLD.email_key IS DISTINCT FROM NEW.email_key)
    EXECUTE FUNCTION customers_search_words_delete();

-- Live API tokens by expiry, for the Active API Tokens sort and filter: the
-- customers holding a live token are found without reading every customer.
CREATE INDEX api_tokens_live ON api_tokens (expires_at, customer_id) WHERE revoked_at IS NULL;
