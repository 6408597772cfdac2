-- Bulk jobs keep the grid filter their "all matching" selection was made with
-- (issue 11, bulkfix): the grid's query parameters (`q=jan&locked=yes`), empty
-- for ticked customers. The customers themselves are frozen in job_customers.
ALTER TABLE jobs ADD COLUMN grid_filter TEXT NOT NULL DEFAULT '';

-- A job's customers are marked handled in the transaction that acts on them,
-- so a job can work on several stretches of a batch at once (PostgreSQL) and
-- still resume after a crash with no customer twice and none left out.
ALTER TABLE job_customers ADD COLUMN handled BIGINT NOT NULL DEFAULT 0;
