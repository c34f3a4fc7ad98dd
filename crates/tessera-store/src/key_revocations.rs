//! Revoked signed keys, by holder. A holder's key (a gate's enrolment token, a results source's
//! key) is signed and carries when it was issued; revoking the holder refuses every key issued
//! to it up to that moment (one issued after works). Gates are named by their id, other
//! holders by names no gate id can have (`results-source:ATHOLY1`).

use crate::Result;
use async_trait::async_trait;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyRevocation {
    /// Whose keys: a gate's id, or another holder under a name no gate id can have
    /// (`results-source:ATHOLY1`).
    pub holder: String,
    /// Unix milliseconds: tokens issued at or before it are refused.
    pub revoked_at_ms: i64,
    pub reason: String,
}

#[async_trait]
pub trait KeyRevocations: Send + Sync {
    /// Revokes the holder's keys issued up to `revoked_at_ms`; revoking again moves the moment
    /// later (never earlier) and keeps the latest reason.
    async fn revoke_keys(&self, r: &KeyRevocation) -> Result<()>;
    /// Every revocation, for the edge's in-memory list (a few thousand holders at most).
    async fn key_revocations(&self) -> Result<Vec<KeyRevocation>>;
}
