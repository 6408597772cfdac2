-- The grid at a million customers (issue 10, grid):
--
-- A keyword of several words is driven from its rarest word's range in
-- customer_search_words; each other word is then checked for that customer by
-- one seek on (customer_id, word) instead of fetching and scanning the row.
CREATE INDEX customer_search_words_customer ON customer_search_words (customer_id, word);

-- `has_tokens=yes` (about one customer in twenty) sorted by name or by id
-- (the default order): a walk of only the customers with live tokens, so a
-- page costs its own rows, not twenty times as many checked and skipped.
CREATE INDEX customers_name_key_live_tokens ON customers (name_key, id) WHERE live_api_tokens > 0;
CREATE INDEX customers_id_live_tokens ON customers (id) WHERE live_api_tokens > 0;
