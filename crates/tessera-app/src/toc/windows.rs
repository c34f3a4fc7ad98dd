//! Silences and maintenance windows: made on any node, in force there at once, written to the
//! store as `window` documents, and applied by every node every other second, so that a window
//! outlives the node that made it and its restarts.

use crate::error::AppError;
use crate::App;
use crate::Result;
use serde::Serialize;

/// Longest silence or maintenance window.
pub const MAX_WINDOW_MINUTES: i64 = 7 * 24 * 60;

/// A silence or a maintenance window as the store shares it between nodes.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Window {
    Silence(tessera_ops::alerts::Silence),
    /// `until_ms: None`: ended by hand.
    Maintenance {
        component: String,
        from_ms: i64,
        until_ms: Option<i64>,
    },
}

impl Window {
    fn key(&self) -> String {
        match self {
            Window::Silence(s) => format!("silence:{}", s.id),
            Window::Maintenance { component, .. } => format!("maintenance:{component}"),
        }
    }

    fn ends_ms(&self) -> i64 {
        match self {
            Window::Silence(s) => s.ends_at_ms,
            Window::Maintenance { until_ms, .. } => until_ms.unwrap_or(i64::MIN),
        }
    }
}

/// Windows read back per refresh at most (silences are bounded by the alerter's own limit).
const MAX_WINDOWS: i64 = 2_000;

impl App {
    /// Writes a window for the other nodes. A failure is logged: the window is in force on
    /// this node, and the others notify what it mutes (a duplicate, never a miss).
    async fn share_window(&self, w: &Window) {
        let doc = tessera_store::TocDocument {
            key: w.key(),
            open: w.ends_ms() > self.now_ms(),
            json: serde_json::to_string(w).unwrap_or_default(),
            updated_at: self.now(),
        };
        if let Err(e) = self.store.put_toc_document(tessera_store::TocKind::Window, &doc).await {
            tracing::warn!(error = %e, window = %doc.key, "silence or maintenance not shared with the other nodes");
        }
    }

    /// Applies every node's silences and maintenance windows from the store (the TOC loop's,
    /// every other second), so that a window made on one node mutes on all of them.
    pub async fn refresh_windows(&self) -> Result<usize> {
        let docs = self.store.toc_documents(tessera_store::TocKind::Window, MAX_WINDOWS).await?;
        let mut inner = self.toc.lock();
        let mut applied = 0;
        for doc in docs {
            let r = match serde_json::from_str::<Window>(&doc.json) {
                Ok(Window::Silence(s)) => inner.alerter.put_silence(s).map_err(|e| e.to_string()),
                Ok(Window::Maintenance { component, from_ms, until_ms: Some(until) }) if until > from_ms => {
                    inner.engine.set_maintenance(&component, from_ms, until).map_err(|e| e.to_string())
                }
                Ok(Window::Maintenance { component, .. }) => {
                    inner.engine.clear_maintenance(&component).map_err(|e| e.to_string())
                }
                Err(e) => Err(e.to_string()),
            };
            match r {
                Ok(()) => applied += 1,
                Err(e) => tracing::debug!(window = %doc.key, error = %e, "a shared window not applied here"),
            }
        }
        Ok(applied)
    }

    /// Mutes the alerts matching every one of `matchers` (Alertmanager's `name=value`,
    /// `name!=value`, `name=~regex`, `name!~regex`) for `minutes`, on every node (the
    /// others apply it within two seconds).
    pub async fn toc_silence(
        &self,
        who: &crate::auth::Principal,
        matchers: &[String],
        minutes: i64,
        comment: &str,
    ) -> Result<tessera_ops::alerts::Silence> {
        if !(1..=MAX_WINDOW_MINUTES).contains(&minutes) {
            return Err(AppError::invalid("minutes", format!("1 to {MAX_WINDOW_MINUTES} minutes")));
        }
        if comment.trim().is_empty() || comment.chars().count() > 2_000 {
            return Err(AppError::invalid("comment", "say why, in 1 to 2,000 characters"));
        }
        let parsed = matchers
            .iter()
            .map(|m| tessera_ops::Matcher::parse(m).map_err(|e| AppError::invalid("matchers", format!("{m:?}: {e}"))))
            .collect::<Result<Vec<_>>>()?;
        let now = self.now_ms();
        let s = tessera_ops::alerts::Silence {
            // Any node may make one: a random id (below 2^53, exact in JSON) keeps them apart.
            id: rand::random::<u64>() >> 11,
            matchers: parsed,
            starts_at_ms: now,
            ends_at_ms: now + minutes * 60_000,
            created_by: who.email.as_str().to_string(),
            comment: comment.trim().to_string(),
        };
        self.toc.lock().alerter.put_silence(s.clone()).map_err(|e| AppError::invalid("matchers", e.to_string()))?;
        self.share_window(&Window::Silence(s.clone())).await;
        Ok(s)
    }

    /// Ends silence `id` now, on every node.
    pub async fn toc_expire_silence(&self, id: u64) -> Result<()> {
        let now = self.now_ms();
        let ended = {
            let mut inner = self.toc.lock();
            inner.alerter.expire_silence(id, now).map_err(|_| AppError::NotFound(format!("silence {id}")))?;
            inner.alerter.silence_by_id(id).cloned()
        };
        if let Some(s) = ended {
            self.share_window(&Window::Silence(s)).await;
        }
        Ok(())
    }

    /// Puts `component` in maintenance for `minutes` from now (0 ends it), on every node: its
    /// state is maintenance, it raises nothing, and what depends on it says so.
    pub async fn toc_maintenance(&self, component: &str, minutes: i64) -> Result<()> {
        if !(0..=MAX_WINDOW_MINUTES).contains(&minutes) {
            return Err(AppError::invalid("minutes", format!("0 (end) to {MAX_WINDOW_MINUTES} minutes")));
        }
        let now = self.now_ms();
        let until_ms = (minutes > 0).then(|| now + minutes * 60_000);
        {
            let mut inner = self.toc.lock();
            let r = match until_ms {
                None => inner.engine.clear_maintenance(component),
                Some(until) => inner.engine.set_maintenance(component, now, until),
            };
            r.map_err(|e| AppError::NotFound(e.to_string()))?;
        }
        self.share_window(&Window::Maintenance { component: component.to_string(), from_ms: now, until_ms }).await;
        Ok(())
    }
}
