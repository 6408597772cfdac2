-- The grid's Active API Tokens sort and filter (issue 10, gridperf): the live
-- token count kept on the customer row, so both are an index range on
-- (live_api_tokens, id) instead of grouping every live token per request.
--
-- A token is live when it is not revoked, not expired and issued under the
-- customer's current security stamp. Triggers keep, for every customer,
--     live_api_tokens = tokens not revoked, with the current stamp, and
--                       expires_at > api_token_sweep.swept_at
-- for every way tokens and stamps are written. Expiry is the only change that
-- no statement makes: the store's sweep (`sweep_expired_api_tokens`) subtracts
-- the tokens that expired in (swept_at, now] and moves swept_at to now before
-- the grid reads the column, so the count is the live count at `now`.
-- The triggers read swept_at FOR SHARE, so a token written while a sweep runs
-- is counted against the swept_at that sweep leaves (never twice).

CREATE TABLE api_token_sweep (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    swept_at BIGINT  NOT NULL
);
-- From 0: every unrevoked token counts until the first sweep takes off the
-- expired ones (a test or demo clock may lie ahead of the migration's time).
INSERT INTO api_token_sweep (id, swept_at) VALUES (1, 0);

ALTER TABLE customers ADD COLUMN live_api_tokens BIGINT NOT NULL DEFAULT 0;

UPDATE customers c SET live_api_tokens = l.n
FROM (SELECT t.customer_id, COUNT(*) AS n
      FROM api_tokens t JOIN customers c2 ON c2.id = t.customer_id
      WHERE t.revoked_at IS NULL AND t.security_stamp = c2.security_stamp
      GROUP BY t.customer_id) l
WHERE c.id = l.customer_id;

CREATE INDEX customers_live_api_tokens ON customers (live_api_tokens, id);

CREATE FUNCTION api_token_swept_at() RETURNS BIGINT LANGUAGE sql VOLATILE AS $$
    SELECT swept_at FROM api_token_sweep WHERE id = 1 FOR SHARE
$$;

-- Inserts: once per statement over the new rows (a bulk load pays once).
CREATE FUNCTION api_tokens_live_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE swept BIGINT := api_token_swept_at();
BEGIN
    UPDATE customers c SET live_api_tokens = c.live_api_tokens + n.n
    FROM (SELECT customer_id, security_stamp, COUNT(*) AS n FROM new_tokens
          WHERE revoked_at IS NULL AND expires_at > swept
          GROUP BY customer_id, security_stamp) n
    WHERE c.id = n.customer_id AND c.security_stamp = n.security_stamp;
    RETURN NULL;
END $$;
CREATE TRIGGER api_tokens_live_insert AFTER INSERT ON api_tokens
    REFERENCING NEW TABLE AS new_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION api_tokens_live_insert();

-- Updates and deletes: the old row's share out, the new row's in.
CREATE FUNCTION api_tokens_live_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE swept BIGINT := api_token_swept_at();
BEGIN
    IF OLD.revoked_at IS NULL AND OLD.expires_at > swept THEN
        UPDATE customers SET live_api_tokens = live_api_tokens - 1
        WHERE id = OLD.customer_id AND security_stamp = OLD.security_stamp;
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.revoked_at IS NULL AND NEW.expires_at > swept THEN
        UPDATE customers SET live_api_tokens = live_api_tokens + 1
        WHERE id = NEW.customer_id AND security_stamp = NEW.security_stamp;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER api_tokens_live_delete AFTER DELETE ON api_tokens
    FOR EACH ROW EXECUTE FUNCTION api_tokens_live_change();
CREATE TRIGGER api_tokens_live_update
    AFTER UPDATE OF revoked_at, expires_at, security_stamp, customer_id ON api_tokens
    FOR EACH ROW EXECUTE FUNCTION api_tokens_live_change();

-- A new stamp kills the tokens issued under the old one.
CREATE FUNCTION customers_live_api_tokens_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE customers SET live_api_tokens = (
        SELECT COUNT(*) FROM api_tokens t
        WHERE t.customer_id = NEW.id AND t.revoked_at IS NULL
          AND t.security_stamp = NEW.security_stamp
          AND t.expires_at > api_token_swept_at())
    WHERE id = NEW.id;
    RETURN NULL;
END $$;
CREATE TRIGGER customers_live_api_tokens_stamp AFTER UPDATE OF security_stamp ON customers
    FOR EACH ROW WHEN (OLD.security_stamp IS DISTINCT FROM NEW.security_stamp)
    EXECUTE FUNCTION customers_live_api_tokens_stamp();
