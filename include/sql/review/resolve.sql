-- Resolve every open flag that upsert.sql did not see in this transaction (it no longer holds over the range).
UPDATE analytics.item_review
   SET resolved_at = now()
 WHERE resolved_at IS NULL AND last_seen_at < now()
