-- Issue 14, credential stuffing: failed sign-ins per client address (an IPv4
-- address, or an IPv6 /64), across every account, storefront, REST and admin.
-- One row per address: the window opened by its first counted failure and the
-- failures counted in it. Each attempt reserves its place with one atomic
-- upsert, so parallel attempts cannot count past the limit.
CREATE TABLE sign_in_ip_failures (
    ip_key       TEXT   NOT NULL PRIMARY KEY,
    window_start BIGINT NOT NULL,
    failures     BIGINT NOT NULL
);
CREATE INDEX sign_in_ip_failures_window ON sign_in_ip_failures (window_start);
