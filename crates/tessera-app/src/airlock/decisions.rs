//! The block list's use cases: a decision put in force here, in the store and on every node;
//! an operator's decision given as text; a decision lifted; what the list says of a fan.

use super::{airlock_error, parse_scope, scope_key, Refused};
use crate::{App, AppError, Result};
use std::net::IpAddr;
use tessera_airlock::blocklist::{Decision, Kind, Scope};
use tessera_domain::Timestamp;

impl App {
    /// Adds a decision to the block list, here and in the store.
    pub async fn decide(&self, d: Decision) -> Result<()> {
        let json = serde_json::to_string(&d).map_err(|e| AppError::Internal(e.to_string()))?;
        let expires = Timestamp(d.expires_ms.div_euclid(1000));
        self.airlock.blocklist.insert(d.clone()).map_err(|e| AppError::invalid("decision", e.to_string()))?;
        self.store.put_edge_decision(&scope_key(&d.scope), &json, expires).await?;
        self.tell_nodes(crate::cluster::NodeEvent::Decided { decision: d }).await;
        Ok(())
    }

    /// An operator's decision given as text (the API and the command line): parsed, checked
    /// (1 second to 30 days), stored and in force.
    pub async fn decide_from_text(
        &self,
        scope: &str,
        value: &str,
        kind: &str,
        duration_secs: i64,
        reason: &str,
        origin: String,
    ) -> Result<Decision> {
        let scope = parse_scope(scope, value)?;
        let kind = match kind {
            "block" => Kind::Block,
            "challenge" => Kind::Challenge,
            "throttle" => Kind::Throttle,
            _ => return Err(AppError::invalid("kind", "one of block, challenge, throttle")),
        };
        if !(1..=30 * 86_400).contains(&duration_secs) {
            return Err(AppError::invalid("duration", "between 1 second and 30 days"));
        }
        let d = Decision::new(scope, kind, self.now_ms() + duration_secs * 1000, reason, origin)
            .map_err(|e| AppError::invalid("decision", e.to_string()))?;
        self.decide(d.clone()).await?;
        Ok(d)
    }

    pub async fn revoke_decision(&self, scope: &Scope) -> Result<bool> {
        let here = self.airlock.blocklist.remove(scope);
        let stored = self.store.delete_edge_decision(&scope_key(scope)).await?;
        self.tell_nodes(crate::cluster::NodeEvent::Lifted { scope: *scope }).await;
        Ok(here || stored)
    }

    pub(super) fn challenged(&self, who: &crate::auth::Principal, ip: Option<IpAddr>) -> bool {
        let now = self.now_ms();
        let by_account = self.airlock.blocklist.check_account(who.account_id.0 as u64, now);
        let by_address = ip.and_then(|ip| self.airlock.blocklist.check(ip, None, now));
        [by_account, by_address].iter().flatten().any(|v| v.kind >= Kind::Challenge)
    }

    /// The block list's word on a signed-in account: a blocked account is refused everywhere.
    /// (Throttle and challenge decisions act where they apply: the edge and the queue.)
    pub fn screen_account(&self, who: &crate::auth::Principal) -> Result<()> {
        match self.airlock.blocklist.check_account(who.account_id.0 as u64, self.now_ms()) {
            Some(v) if v.kind == Kind::Block => {
                self.airlock.count(Refused::Blocked);
                Err(airlock_error(Refused::Blocked, &format!("this account is blocked: {}", v.reason)))
            }
            _ => Ok(()),
        }
    }
}
