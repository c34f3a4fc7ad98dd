//! Notifications and pages out: through the mail outbox (so a mail survives a restart and is
//! retried like any other) and to webhooks (JSON, 5 s timeout, one attempt per notification:
//! the next group interval repeats what is still firing).
//!
//! Only the leading node delivers; the others record what they hold back, so the console of
//! any node shows what was said.

use super::Sent;
use crate::App;
use tessera_ops::alerts::{Notification, NotifyKind};
use tessera_ops::incidents::Page;

/// Webhook calls wait this long at most.
const WEBHOOK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// Longest mail body.
const MAX_BODY: usize = 8_000;

/// One message to deliver.
pub(super) struct Outgoing {
    subject: String,
    body: String,
    incident: Option<u64>,
    /// Escalation targets; empty: the first level's.
    targets: Vec<String>,
    json: serde_json::Value,
}

impl Outgoing {
    pub(super) fn notification(n: &Notification, incident: Option<u64>) -> Outgoing {
        let verb = match (n.kind, n.firing.is_empty()) {
            (_, true) => "RESOLVED",
            (NotifyKind::First, _) => "FIRING",
            (NotifyKind::Update, _) => "UPDATED",
            (NotifyKind::Repeat, _) => "STILL FIRING",
        };
        let summary = |a: &tessera_ops::Alert| {
            a.annotations
                .get("summary")
                .cloned()
                .unwrap_or_else(|| format!("{} {}", a.label("alertname"), a.label("component")))
        };
        let mut body =
            format!("{verb}: {} firing, {} resolved in {}\n\n", n.firing.len(), n.resolved.len(), n.group_key);
        for a in n.firing.iter().take(50) {
            body.push_str(&format!("- {}\n", summary(a)));
        }
        for a in n.resolved.iter().take(20) {
            body.push_str(&format!("- resolved: {}\n", summary(a)));
        }
        body.truncate(MAX_BODY);
        Outgoing {
            subject: format!(
                "[TOC {verb}] {}{}",
                n.group_key,
                incident.map(|i| format!(" · incident {i}")).unwrap_or_default()
            ),
            body,
            incident,
            targets: Vec::new(),
            json: serde_json::json!({ "type": "notification", "incident": incident, "notification": n }),
        }
    }

    pub(super) fn page(p: &Page, title: &str) -> Outgoing {
        Outgoing {
            subject: format!("[TOC PAGE level {}] incident {}: {title}", p.level + 1, p.incident),
            body: format!(
                "Incident {} is not acknowledged: {title}\nLevel {} of the escalation policy is paged.\n",
                p.incident,
                p.level + 1
            ),
            incident: Some(p.incident),
            targets: p.targets.clone(),
            json: serde_json::json!({ "type": "page", "page": p, "title": title }),
        }
    }
}

impl App {
    pub(super) async fn deliver(&self, outgoing: Vec<Outgoing>) {
        let cfg = &self.toc.config;
        let leads = self.toc.leads();
        let rehearsal = self.toc.lock().rehearsal.is_some();
        for o in outgoing {
            let subject = if rehearsal { format!("[REHEARSAL] {}", o.subject) } else { o.subject.clone() };
            let mut sent = Sent {
                at_ms: self.now_ms(),
                incident: o.incident,
                subject: subject.clone(),
                channels: Vec::new(),
                failed: Vec::new(),
            };
            if !leads {
                sent.channels.push("held (another node leads)".into());
                self.toc.record_sent(sent);
                continue;
            }
            let targets: Vec<&String> = if o.targets.is_empty() {
                cfg.escalation.levels.first().map(|l| l.targets.iter().collect()).unwrap_or_default()
            } else {
                o.targets.iter().collect()
            };
            for t in targets {
                let Some(address) = cfg.oncall.get(t) else {
                    sent.failed.push(format!("{t}: no address"));
                    continue;
                };
                match self.store.enqueue_mail(address, &subject, &o.body, self.now()).await {
                    Ok(_) => sent.channels.push(format!("mail:{address}")),
                    Err(e) => sent.failed.push(format!("mail:{address}: {e}")),
                }
            }
            for url in &cfg.webhooks {
                let mut json = o.json.clone();
                json["rehearsal"] = serde_json::Value::Bool(rehearsal);
                match webhook(url, &json).await {
                    Ok(()) => sent.channels.push(format!("webhook:{url}")),
                    Err(e) => sent.failed.push(format!("webhook:{url}: {e}")),
                }
            }
            if !sent.failed.is_empty() {
                tracing::warn!(failed = ?sent.failed, "notification not delivered everywhere");
            }
            self.toc.record_sent(sent);
        }
    }
}

async fn webhook(url: &str, body: &serde_json::Value) -> Result<(), String> {
    let client = reqwest::Client::builder().timeout(WEBHOOK_TIMEOUT).build().map_err(|e| e.to_string())?;
    let r = client.post(url).json(body).send().await.map_err(|e| e.to_string())?;
    if r.status().is_success() {
        Ok(())
    } else {
        Err(format!("answered {}", r.status()))
    }
}
