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

CREATE TABLE api_token_sweep (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    swept_at BIGINT  NOT NULL
);
-- From 0: every unrevoked token counts until the first sweep takes off the
-- expired ones (a test or demo clock may lie ahead of the migration's time).
INSERT INTO api_token_sweep (id, swept_at) VALUES (1, 0);

ALTER TABLE customers ADD COLUMN live_api_tokens BIGINT NOT NULL DEFAULT 0;

UPDATE customers SET live_api_tokens = (
    SELECT COUNT(*) FROM api_tokens t
    WHERE t.customer_id = customers.id AND t.revoked_at IS NULL
      AND t.security_stamp = customers.security_stamp)
WHERE id IN (SELECT customer_id FROM api_tokens WHERE revoked_at IS NULL);

CREATE INDEX customers_live_api_tokens ON customers (live_api_tokens, id);

CREATE TRIGGER api_tokens_live_insert AFTER INSERT ON api_tokens
WHEN NEW.revoked_at IS NULL AND NEW.expires_at > (SELECT swept_at FROM api_token_sweep)
BEGIN
    UPDATE customers SET live_api_tokens = live_api_tokens + 1
    WHERE id = NEW.customer_id AND security_stamp = NEW.security_stamp;
END;

CREATE TRIGGER api_tokens_live_delete AFTER DELETE ON api_tokens
WHEN OLD.revoked_at IS NULL AND OLD.expires_at > (SELECT swept_at FROM api_token_sweep)
BEGIN
    UPDATE customers SET live_api_tokens = live_api_tokens - 1
    WHERE id = OLD.customer_id AND security_stamp = OLD.security_stamp;
END;

CREATE TRIGGER api_tokens_live_update
AFTER UPDATE OF revoked_at, expires_at, security_stamp, customer_id ON api_tokens
BEGIN
    UPDATE customers SET live_api_tokens = live_api_tokens - 1
    WHERE OLD.revoked_at IS NULL AND OLD.expires_at > (SELECT swept_at FROM api_token_sweep)
      AND id = OLD.customer_id AND security_stamp = OLD.security_stamp;
    UPDATE customers SET live_api_tokens = live_api_tokens + 1
    WHERE NEW.revoked_at IS NULL AND NEW.expires_at > (SELECT swept_at FROM api_token_sweep)
      AND id = NEW.customer_id AND security_stamp = NEW.security_stamp;
END;

-- A new stamp kills the tokens issued under the old one (and a stamp set back
-- revives none: stamps are random).
CREATE TRIGGER customers_live_api_tokens_stamp AFTER UPDATE OF security_stamp ON customers
WHEN OLD.security_stamp IS NOT NEW.security_stamp
BEGIN
    UPDATE customers SET live_api_tokens = (
        SELECT COUNT(*) FROM api_tokens t
        WHERE t.customer_id = NEW.id AND t.revoked_at IS NULL
          AND t.security_stamp = NEW.security_stamp
          AND t.expires_at > (SELECT swept_at FROM api_token_sweep))
    WHERE id = NEW.id;
END;

-- The grid's total without a filter: SQLite has no row estimate and a COUNT(*)
-- reads a whole index (a million entries), so the row count is kept here by
-- triggers. (PostgreSQL shows the planner's estimate instead: one counter row
-- would serialise every concurrent sign-up there.)
CREATE TABLE customer_total (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n  BIGINT  NOT NULL
);
INSERT INTO customer_total (id, n) SELECT 1, COUNT(*) FROM customers;

CREATE TRIGGER customer_total_insert AFTER INSERT ON customers
BEGIN
    UPDATE customer_total SET n = n + 1 WHERE id = 1;
END;

CREATE TRIGGER customer_total_delete AFTER DELETE ON customers
BEGIN
    UPDATE customer_total SET n = n - 1 WHERE id = 1;
END;
