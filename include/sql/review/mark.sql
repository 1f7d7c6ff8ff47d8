-- Record that a row's owed notice went out: the new flag's, or (once resolved) its resolution's.
UPDATE analytics.item_review
   SET announced_at = CASE WHEN resolved_at IS NULL THEN now() ELSE announced_at END,
       resolution_announced_at = CASE WHEN resolved_at IS NOT NULL THEN now() ELSE resolution_announced_at END
 WHERE review_id = %(review_id)s
