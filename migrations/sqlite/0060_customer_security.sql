-- Issue 13: the shopper's security page, known devices, "This wasn't me"
-- links and the customer's security timeline.

-- One row per signed-in storefront session, beside tower-sessions' opaque
-- record. Keyed by the hash of a random key the session carries (it survives
-- the session id being cycled); a session whose row is gone is signed out.
CREATE TABLE customer_sessions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    key_hash     TEXT   NOT NULL,
    customer_id  BIGINT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    session_id   TEXT,                        -- tower-sessions' current id, to delete its record too
    user_agent   TEXT   NOT NULL,
    ip           TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL              -- touched at most once a minute
);
CREATE UNIQUE INDEX customer_sessions_key ON customer_sessions (key_hash);
CREATE INDEX customer_sessions_customer ON customer_sessions (customer_id);

-- Browsers that have signed in to an account (the device cookie names one).
CREATE TABLE customer_devices (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id BIGINT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    device_hash TEXT   NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX customer_devices_key ON customer_devices (customer_id, device_hash);

-- "This wasn't me" links from the new-device notice: only the hash is kept.
CREATE TABLE not_me_links (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash  TEXT   NOT NULL,
    customer_id BIGINT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
CREATE UNIQUE INDEX not_me_links_hash ON not_me_links (token_hash);

-- The customer's security timeline, written in the transaction of the change.
CREATE TABLE customer_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id BIGINT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    at          BIGINT NOT NULL,
    kind        TEXT   NOT NULL,
    detail      TEXT   NOT NULL DEFAULT '',
    ip          TEXT
);
CREATE INDEX customer_events_customer ON customer_events (customer_id, id);

ALTER TABLE api_tokens ADD COLUMN last_used_at BIGINT;

-- The timeline reads a customer's mail by the address it went to.
CREATE INDEX mail_outbox_recipient ON mail_outbox (recipient);
