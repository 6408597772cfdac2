-- Force Sign In of a customer holding 1,000 API tokens took 294 ms on
-- PostgreSQL (7 ms on SQLite): the live-token count of 0075 was kept by
-- row-level triggers, so one UPDATE revoking 1,000 tokens rewrote the
-- customer's row 1,000 times, every index of it with it. These statement-level
-- triggers read the statement's transition tables and apply the net change per
-- customer once. The rules are 0075's: a token counts while it is not revoked,
-- has not expired at the last sweep and carries the customer's current stamp.
--
-- A statement-level trigger with transition tables cannot name columns
-- (UPDATE OF …), so the update trigger runs for every UPDATE of api_tokens;
-- one that leaves its tokens as live as they were (last_used_at) nets zero per
-- customer and writes nothing.

DROP TRIGGER api_tokens_live_update ON api_tokens;
DROP TRIGGER api_tokens_live_delete ON api_tokens;
DROP FUNCTION api_tokens_live_change();

CREATE FUNCTION api_tokens_live_update() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE swept BIGINT := api_token_swept_at();
BEGIN
    UPDATE customers c SET live_api_tokens = c.live_api_tokens + d.delta
    FROM (SELECT customer_id, security_stamp, SUM(delta) AS delta
          FROM (SELECT customer_id, security_stamp, -1 AS delta FROM old_tokens
                WHERE revoked_at IS NULL AND expires_at > swept
                UNION ALL
                SELECT customer_id, security_stamp, 1 AS delta FROM new_tokens
                WHERE revoked_at IS NULL AND expires_at > swept) changes
          GROUP BY customer_id, security_stamp
          HAVING SUM(delta) <> 0) d
    WHERE c.id = d.customer_id AND c.security_stamp = d.security_stamp;
    RETURN NULL;
END $$;
CREATE TRIGGER api_tokens_live_update AFTER UPDATE ON api_tokens
    REFERENCING OLD TABLE AS old_tokens NEW TABLE AS new_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION api_tokens_live_update();

CREATE FUNCTION api_tokens_live_delete() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE swept BIGINT := api_token_swept_at();
BEGIN
    UPDATE customers c SET live_api_tokens = c.live_api_tokens - d.n
    FROM (SELECT customer_id, security_stamp, COUNT(*) AS n FROM old_tokens
          WHERE revoked_at IS NULL AND expires_at > swept
          GROUP BY customer_id, security_stamp) d
    WHERE c.id = d.customer_id AND c.security_stamp = d.security_stamp;
    RETURN NULL;
END $$;
CREATE TRIGGER api_tokens_live_delete AFTER DELETE ON api_tokens
    REFERENCING OLD TABLE AS old_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION api_tokens_live_delete();
