//! Tessera's PostgreSQL store (work in progress).
