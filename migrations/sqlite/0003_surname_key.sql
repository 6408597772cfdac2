-- The last word of the last name ("de vries" → "vries"), so the grid's keyword
-- search finds Jan de Vries by "vries" as well as by "de vries" or "jan".
ALTER TABLE customers ADD COLUMN surname_key TEXT NOT NULL DEFAULT '';
-- rtrim(s, <every non-space character of s>) leaves s up to its last space.
UPDATE customers
   SET surname_key = substr(lastname_key, length(rtrim(lastname_key, replace(lastname_key, ' ', ''))) + 1);
CREATE INDEX customers_surname_key ON customers (surname_key, id);
