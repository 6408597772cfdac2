-- 1. The grid's keyword search is a prefix range on these keys (key >= 'jan' AND
-- key < 'jao'), which selects exactly the keys starting with the prefix only when
-- they compare byte by byte. A database created with a linguistic default
-- collation (en_US.UTF-8, ICU) puts 'jäger' after 'jå' and 'jañez' between 'jan'
-- and 'jao', so the range would miss rows and invent others. COLLATE "C" makes
-- the keys, their indexes and the Name and Email sorts byte-wise, like SQLite's
-- BINARY collation, whatever the database default is.
--
-- 2. Counting keyword matches merges the ids of three index ranges; the email
-- index carries the id (as every SQLite index carries the rowid) so that range is
-- read from the index alone, not from the table.
DROP INDEX customers_email_key;
ALTER TABLE customers
    ALTER COLUMN email_key TYPE TEXT COLLATE "C",
    ALTER COLUMN name_key TYPE TEXT COLLATE "C",
    ALTER COLUMN lastname_key TYPE TEXT COLLATE "C";
CREATE UNIQUE INDEX customers_email_key ON customers (email_key) INCLUDE (id);
