-- Issue 14 (mail faults): whether a waiting message's last attempt failed for a
-- reason of the relay's (unreachable, 4xx, timeout, TLS) rather than a permanent
-- refusal. When the relay answers again, these are released at once instead of
-- each sitting out its own backoff.
ALTER TABLE mail_outbox ADD COLUMN transient_failure BIGINT NOT NULL DEFAULT 0;
