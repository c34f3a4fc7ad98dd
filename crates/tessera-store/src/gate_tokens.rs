//! Revoked gate tokens. A gate's token is signed and carries when it was issued; revoking a
//! gate refuses every token issued to it up to that moment (a new enrolment after it works).
//! Other holders of signed keys with the same rule are kept here too, under names no gate id
//! can have: a results source as `results-source:ATHOLY1`.

use crate::Result;
use async_trait::async_trait;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GateRevocation {
    pub gate_id: String,
    /// Unix milliseconds: tokens issued at or before it are refused.
    pub revoked_at_ms: i64,
    pub reason: String,
}

#[async_trait]
pub trait GateTokens: Send + Sync {
    /// Revokes the gate's tokens issued up to `revoked_at_ms`; revoking again moves the moment
    /// later (never earlier) and keeps the latest reason.
    async fn revoke_gate(&self, r: &GateRevocation) -> Result<()>;
    /// Every revocation, for the edge's in-memory list (a few thousand gates at most).
    async fn gate_revocations(&self) -> Result<Vec<GateRevocation>>;
}
