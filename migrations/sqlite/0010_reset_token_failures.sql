-- Wrong, used or expired reset tokens presented, per client IP, so that
-- guessing tokens is limited (SECURITY-CHECKS 21).
CREATE TABLE reset_token_failures (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at BIGINT NOT NULL,
    client_ip  TEXT   NOT NULL
);
CREATE INDEX reset_token_failures_ip ON reset_token_failures (client_ip, created_at);
