-- The janitor's purges (src/app.rs, at start and then hourly) go through an
-- index instead of reading whole tables. The mail purge found the sent mail by
-- status and then read every sent row for its date: after a load test, 60,000
-- mails of 3 KB read at every start, which on SQLite put 200 MiB of the
-- memory-mapped file in the resident size of an idle server.
CREATE INDEX mail_outbox_done ON mail_outbox (status, created_at);
CREATE INDEX password_reset_tokens_expiry ON password_reset_tokens (expires_at);
CREATE INDEX reset_token_failures_created ON reset_token_failures (created_at);
