//! For tests: mails kept in memory, with failure injection.

use std::sync::{Mutex, MutexGuard};

use crate::{parse_mailbox, Mail, MailError, Transport};

/// Keeps sent mails in memory. Checks the recipient like the other transports, and can be told
/// to fail the next sends transiently, to test retries.
#[derive(Debug, Default)]
pub struct MemoryTransport {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    sent: Vec<Mail>,
    fail_next: usize,
    attempts: usize,
}

impl MemoryTransport {
    pub fn new() -> Self {
        MemoryTransport::default()
    }

    /// The mails sent so far, oldest first.
    pub fn sent(&self) -> Vec<Mail> {
        self.lock().sent.clone()
    }

    /// Makes the next `n` sends with a valid recipient fail with [`MailError::Transient`]
    /// (replacing any count still pending).
    pub fn fail_next(&self, n: usize) {
        self.lock().fail_next = n;
    }

    /// How many times `send` was called, successful or not.
    pub fn attempts(&self) -> usize {
        self.lock().attempts
    }

    /// Forgets the sent mails (not the pending failures).
    pub fn clear(&self) {
        self.lock().sent.clear();
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait::async_trait]
impl Transport for MemoryTransport {
    fn name(&self) -> &'static str {
        "memory"
    }

    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        let mut state = self.lock();
        state.attempts += 1;
        parse_mailbox(&mail.to)?;
        if state.fail_next > 0 {
            state.fail_next -= 1;
            return Err(MailError::Transient(format!("injected failure ({} more to come)", state.fail_next)));
        }
        state.sent.push(mail.clone());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keeps_sent_mails() {
        let t = MemoryTransport::new();
        assert_eq!(t.name(), "memory");
        let a = Mail::new("a@example.com", "one", "1");
        let b = Mail::new("B <b@example.com>", "two", "2");
        t.send(&a).await.unwrap();
        t.send(&b).await.unwrap();
        assert_eq!(t.sent(), vec![a, b]);
        t.clear();
        assert!(t.sent().is_empty());
        assert_eq!(t.attempts(), 2);
    }

    #[tokio::test]
    async fn fails_the_next_n_sends_transiently() {
        let t = MemoryTransport::new();
        let mail = Mail::new("fan@example.com", "s", "b");
        t.fail_next(2);
        for _ in 0..2 {
            let err = t.send(&mail).await.unwrap_err();
            assert!(err.is_transient(), "{err:?}");
        }
        assert!(t.sent().is_empty());
        t.send(&mail).await.unwrap();
        t.send(&mail).await.unwrap();
        assert_eq!(t.sent().len(), 2);
        assert_eq!(t.attempts(), 4);
    }

    #[tokio::test]
    async fn invalid_address_is_refused_and_does_not_use_up_a_failure() {
        let t = MemoryTransport::new();
        t.fail_next(1);
        let err = t.send(&Mail::new("nobody", "s", "b")).await.unwrap_err();
        assert!(matches!(err, MailError::InvalidAddress(_)), "{err:?}");
        let mail = Mail::new("fan@example.com", "s", "b");
        assert!(t.send(&mail).await.unwrap_err().is_transient());
        t.send(&mail).await.unwrap();
        assert_eq!(t.sent(), vec![mail]);
    }

    #[tokio::test]
    async fn usable_as_a_shared_trait_object() {
        let t = std::sync::Arc::new(MemoryTransport::new());
        let dynamic: std::sync::Arc<dyn Transport> = t.clone();
        dynamic.send(&Mail::new("fan@example.com", "s", "b")).await.unwrap();
        assert_eq!(t.sent().len(), 1);
    }
}
