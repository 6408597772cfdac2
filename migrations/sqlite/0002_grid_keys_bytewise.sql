-- The PostgreSQL migration of this name makes the grid's search keys compare byte
-- by byte and lets the email index carry the id. SQLite has both already: TEXT
-- compares with the BINARY collation (byte-wise), and every index holds the
-- rowid, which is `id`. Kept so both folders hold the same migrations.
SELECT 1;
