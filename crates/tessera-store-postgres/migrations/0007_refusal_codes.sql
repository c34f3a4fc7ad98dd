-- A refusal remembered under an idempotency key is its code: the HTTP status is chosen from the
-- code by the HTTP layer, so the store keeps no status of its own.
ALTER TABLE idempotency DROP COLUMN error_status;
