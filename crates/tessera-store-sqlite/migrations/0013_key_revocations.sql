-- Revoked signed keys by holder: a gate's tokens (the holder is its id) and, under names no
-- gate id can have, other holders' keys (`results-source:ATHOLY1`). The table held gates only
-- when it was made.
ALTER TABLE gate_revocations RENAME TO key_revocations;
ALTER TABLE key_revocations RENAME COLUMN gate_id TO holder;
