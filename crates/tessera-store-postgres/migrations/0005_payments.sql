-- The merchant's record of every payment. A purchase
-- writes its row in the transaction that writes what it pays for; `state` says what is still
-- owed to the provider; the worker takes rows whose `next_attempt_at` has come (a lease
-- when it claims them, a back-off when the provider fails).
CREATE TABLE payments (
    id              BIGSERIAL PRIMARY KEY,
    -- The provider's authorisation id. Not indexed for sales: they are found by what they
    -- paid for, and a random key would cost every sale a write at a random index page.
    provider_ref    TEXT NOT NULL,
    account_id      BIGINT NOT NULL REFERENCES accounts (id),
    kind            TEXT NOT NULL CHECK (kind IN ('order', 'resale', 'attempt')),
    amount_cents    BIGINT NOT NULL CHECK (amount_cents > 0),
    -- The order (kind 'order') or the listing (kind 'resale') it paid for.
    subject_id      BIGINT,
    state           TEXT NOT NULL CHECK (state IN ('capture_pending', 'captured', 'void_pending', 'voided',
                                                    'refund_pending', 'refunded')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX payments_due ON payments (next_attempt_at)
    WHERE state IN ('capture_pending', 'void_pending', 'refund_pending');
CREATE INDEX payments_by_age ON payments (created_at);
CREATE INDEX payments_by_subject ON payments (kind, subject_id) WHERE subject_id IS NOT NULL;
CREATE UNIQUE INDEX payments_attempts ON payments (provider_ref) WHERE kind = 'attempt';

-- What was paid before this record existed was captured by the request that sold it.
INSERT INTO payments (provider_ref, account_id, kind, amount_cents, subject_id, state, next_attempt_at,
                      created_at, updated_at)
SELECT payment_ref, account_id, 'order', total_cents, id, 'captured', created_at, created_at, created_at
FROM orders WHERE payment_ref <> 'free' AND total_cents > 0;
INSERT INTO payments (provider_ref, account_id, kind, amount_cents, subject_id, state, next_attempt_at,
                      created_at, updated_at)
SELECT payment_ref, buyer, 'resale', price_cents + buyer_fee_cents, id, 'captured', closed_at, closed_at, closed_at
FROM resale_listings WHERE status = 'sold' AND payment_ref IS NOT NULL AND price_cents + buyer_fee_cents > 0;
