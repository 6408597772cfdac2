-- The last word of the last name ("de vries" → "vries"), so the grid's keyword
-- search finds Jan de Vries by "vries" as well as by "de vries" or "jan".
-- Byte-wise like the other search keys (see 0002).
ALTER TABLE customers ADD COLUMN surname_key TEXT COLLATE "C" NOT NULL DEFAULT '';
UPDATE customers SET surname_key = regexp_replace(lastname_key, '^.*\s', '');
CREATE INDEX customers_surname_key ON customers (surname_key, id);
