-- Administrators (issue 12): disabled accounts, TOTP two-factor sign-in,
-- recovery codes, activation links, and audit log filters.

-- 0: disabled (cannot sign in; its sessions ended when it was disabled).
ALTER TABLE admins ADD COLUMN active BIGINT NOT NULL DEFAULT 1;
-- The confirmed TOTP secret, sealed with a key kept out of the database; NULL: no second factor.
ALTER TABLE admins ADD COLUMN totp_secret TEXT;
-- A secret shown on the enrolment page and not yet confirmed with a code, sealed.
ALTER TABLE admins ADD COLUMN totp_pending_secret TEXT;
-- The last time step whose code was accepted: each code works once, on every instance.
ALTER TABLE admins ADD COLUMN totp_last_step BIGINT;

-- Single-use recovery codes, SHA-256 only.
CREATE TABLE admin_recovery_codes (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    admin_id  BIGINT NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    code_hash TEXT   NOT NULL,
    used_at   BIGINT
);
CREATE INDEX admin_recovery_codes_admin ON admin_recovery_codes (admin_id, code_hash);

-- The one-time link a new administrator chooses a password with (SHA-256 only).
CREATE TABLE admin_activation_tokens (
    admin_id   BIGINT NOT NULL PRIMARY KEY REFERENCES admins (id) ON DELETE CASCADE,
    token_hash TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX admin_activation_tokens_hash ON admin_activation_tokens (token_hash);

CREATE INDEX audit_log_admin ON audit_log (admin_id, id);
CREATE INDEX audit_log_action ON audit_log (action, id);
CREATE INDEX audit_log_created ON audit_log (created_at, id);
