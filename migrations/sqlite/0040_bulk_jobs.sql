-- Bulk jobs (issue 11): a job is a row with its frozen selection, claimed by
-- one instance at a time with a lease, its cursor advanced in the same
-- transaction as the actions of each batch.
CREATE TABLE jobs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    action       TEXT   NOT NULL,             -- reset_password | unlock | force_sign_in
    selection    TEXT   NOT NULL,             -- how the customers were chosen, for the record
    admin_id     BIGINT,
    admin_email  TEXT   NOT NULL,             -- who started it (or cli)
    client_ip    TEXT   NOT NULL,
    state        TEXT   NOT NULL DEFAULT 'queued', -- queued | running | done | cancelled
    total        BIGINT NOT NULL,
    cursor_id    BIGINT NOT NULL DEFAULT 0,   -- every job customer with an id up to this one is handled
    done         BIGINT NOT NULL DEFAULT 0,
    skipped      BIGINT NOT NULL DEFAULT 0,
    failed       BIGINT NOT NULL DEFAULT 0,
    lease_owner  TEXT,
    lease_until  BIGINT,
    created_at   BIGINT NOT NULL,
    finished_at  BIGINT
);
CREATE INDEX jobs_state ON jobs (state, id);

-- The customers of a job, fixed when it was confirmed.
CREATE TABLE job_customers (
    job_id      BIGINT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    customer_id BIGINT NOT NULL,
    PRIMARY KEY (job_id, customer_id)
) WITHOUT ROWID;

-- Single requests overtake bulk mail: 0 single, 1 bulk.
ALTER TABLE mail_outbox ADD COLUMN priority BIGINT NOT NULL DEFAULT 0;
-- The claim walks the waiting mail in the order it takes it (single first),
-- never the delivered history.
CREATE INDEX mail_outbox_queue ON mail_outbox (priority, next_attempt_at, id)
    WHERE status IN ('pending', 'sending');

