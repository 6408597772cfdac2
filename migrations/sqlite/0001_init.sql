-- Timestamps are unix seconds (BIGINT) so both backends compare them as plain integers.

CREATE TABLE customers (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    email           TEXT    NOT NULL,
    email_key       TEXT    NOT NULL,          -- email with A-Z folded to a-z, nothing else
    firstname       TEXT    NOT NULL,
    lastname        TEXT    NOT NULL,
    name_key        TEXT    NOT NULL,          -- lower-cased "firstname lastname" for grid search and sort
    lastname_key    TEXT    NOT NULL,          -- lower-cased lastname, so "smi" finds Jane Smith
    password_hash   TEXT    NOT NULL,
    security_stamp  TEXT    NOT NULL,
    locale          TEXT    NOT NULL DEFAULT 'en',
    created_at      BIGINT  NOT NULL,
    last_sign_in_at BIGINT,
    failed_sign_ins BIGINT  NOT NULL DEFAULT 0,
    locked_until    BIGINT,
    api_token_count BIGINT  NOT NULL DEFAULT 0 -- tokens issued and not revoked (expiry is checked on read)
);
CREATE UNIQUE INDEX customers_email_key ON customers (email_key);
CREATE INDEX customers_name_key ON customers (name_key, id);
CREATE INDEX customers_lastname_key ON customers (lastname_key, id);
CREATE INDEX customers_created_at ON customers (created_at, id);
CREATE INDEX customers_last_sign_in_at ON customers (last_sign_in_at, id);
CREATE INDEX customers_locked_until ON customers (locked_until, id);
CREATE INDEX customers_api_token_count ON customers (api_token_count, id);

CREATE TABLE admins (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    email           TEXT    NOT NULL,
    email_key       TEXT    NOT NULL,
    name            TEXT    NOT NULL,
    role            TEXT    NOT NULL,          -- 'administrator' | 'support'
    password_hash   TEXT    NOT NULL,
    security_stamp  TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL,
    last_sign_in_at BIGINT,
    failed_sign_ins BIGINT  NOT NULL DEFAULT 0,
    locked_until    BIGINT
);
CREATE UNIQUE INDEX admins_email_key ON admins (email_key);

-- Server secrets and the Password Options, one row each.
CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- At most one live reset link per customer: a newer one replaces the row.
CREATE TABLE password_reset_tokens (
    customer_id BIGINT NOT NULL PRIMARY KEY REFERENCES customers (id) ON DELETE CASCADE,
    token_hash  TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX password_reset_tokens_hash ON password_reset_tokens (token_hash);

-- One row per accepted reset request, for the hourly and minimum-interval limits.
CREATE TABLE password_reset_requests (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at  BIGINT NOT NULL,
    client_ip   TEXT,
    email_key   TEXT
);
CREATE INDEX password_reset_requests_ip ON password_reset_requests (client_ip, created_at);
CREATE INDEX password_reset_requests_email ON password_reset_requests (email_key, created_at);
CREATE INDEX password_reset_requests_created ON password_reset_requests (created_at);

CREATE TABLE api_tokens (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash     TEXT   NOT NULL,
    customer_id    BIGINT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    security_stamp TEXT   NOT NULL,            -- the customer's stamp at issue; a rotated stamp kills the token
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    revoked_at     BIGINT
);
CREATE UNIQUE INDEX api_tokens_hash ON api_tokens (token_hash);
CREATE INDEX api_tokens_customer ON api_tokens (customer_id, revoked_at);

CREATE TABLE mail_outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    recipient       TEXT   NOT NULL,
    kind            TEXT   NOT NULL,           -- 'reset_link' | 'password_changed'
    subject         TEXT   NOT NULL,
    body_text       TEXT,                      -- erased once delivered
    body_html       TEXT,
    status          TEXT   NOT NULL DEFAULT 'pending', -- pending | sending | sent | failed
    attempts        BIGINT NOT NULL DEFAULT 0,
    permanent_failures BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_until     BIGINT,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    sent_at         BIGINT
);
CREATE INDEX mail_outbox_due ON mail_outbox (status, next_attempt_at);

CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at  BIGINT NOT NULL,
    admin_id    BIGINT,
    admin_email TEXT   NOT NULL,
    action      TEXT   NOT NULL,
    customer_id BIGINT,
    client_ip   TEXT   NOT NULL,
    detail      TEXT   NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_customer ON audit_log (customer_id, id);
