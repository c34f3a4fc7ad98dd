//! The screening loop: applications sent to the screening authority (a sandbox here) in
//! batches, the answers recorded on their vetting trail.

use super::*;

impl App {
    /// One pass of the screening loop: sends submitted and appealed applications to the
    /// authority in batches, and records the answers of batches that are ready. Rows left in
    /// `screening` by a node that stopped (their batch lost with it) are sent again.
    pub async fn screening_pass(&self) -> Result<usize> {
        let now = self.now().0;
        let mut recorded = 0;
        // Answers first: they free room for new batches.
        let ready: Vec<Vec<(PersonId, tessera_accreditation::vetting::screening::ScreeningAnswer)>> = {
            let mut sandbox = self.accreditations.sandbox.lock().unwrap_or_else(|e| e.into_inner());
            let mut batches = self.accreditations.batches.lock().unwrap_or_else(|e| e.into_inner());
            let mut ready = Vec::new();
            batches.retain(|(b, _)| match sandbox.poll(now, *b) {
                Ok(Poll::Ready(answers)) => {
                    ready.push(answers);
                    false
                }
                Ok(Poll::Pending { .. }) => true,
                Err(_) => false,
            });
            ready
        };
        for answers in ready {
            for (person, answer) in answers {
                if self.record_answer(person.0 as i64, &answer).await.is_ok() {
                    recorded += 1;
                }
            }
        }
        let in_flight: std::collections::HashSet<i64> = {
            let batches = self.accreditations.batches.lock().unwrap_or_else(|e| e.into_inner());
            batches.iter().flat_map(|(_, p)| p.iter().copied()).collect()
        };
        for state in [State::Submitted, State::Appealed, State::Screening] {
            let mut after = 0;
            loop {
                let q = AccreditationQuery {
                    org: None,
                    state: Some(state.as_str().into()),
                    after,
                    limit: SCREENING_BATCH as i64,
                };
                let rows = self.store.accreditations(&q).await?;
                let Some(last) = rows.last() else { break };
                after = last.id;
                let mut requests = Vec::new();
                let mut people = Vec::new();
                // A row in `screening` not in this node's batches was sent by a node that
                // stopped (or by another node, still waiting): sent again only once the
                // authority's longest delay has passed twice.
                let stale =
                    |r: &&StoredAccreditation| state != State::Screening || r.updated_at.0 < now - RESEND_AFTER_SECS;
                for row in rows.iter().filter(|r| !in_flight.contains(&r.id)).filter(stale) {
                    let full = self.stored(row.id).await?;
                    let appeal = state == State::Appealed;
                    if state != State::Screening
                        && self.act(row.id, Action::StartScreening, Actor::System, "").await.is_err()
                    {
                        continue;
                    }
                    let a = self.application_of(&full)?;
                    requests.push(ScreeningRequest::for_application(PersonId(row.id as u64), &a, appeal));
                    people.push(row.id);
                }
                if !requests.is_empty() {
                    let mut sandbox = self.accreditations.sandbox.lock().unwrap_or_else(|e| e.into_inner());
                    match sandbox.submit_batch(now, &requests) {
                        Ok(b) => {
                            self.accreditations.batches.lock().unwrap_or_else(|e| e.into_inner()).push((b, people))
                        }
                        // The authority is full: what was not sent stays in `screening` and
                        // goes in a later pass.
                        Err(e) => {
                            tracing::warn!(error = %e, "screening authority refused a batch");
                            return Ok(recorded);
                        }
                    }
                }
                if rows.len() < SCREENING_BATCH {
                    break;
                }
            }
        }
        Ok(recorded)
    }

    pub(super) async fn record_answer(
        &self,
        id: i64,
        answer: &tessera_accreditation::vetting::screening::ScreeningAnswer,
    ) -> Result<State> {
        let waited = std::sync::Mutex::new(None);
        let state = self
            .move_vetting(id, |v, now| {
                // From the latest sending to the authority to its answer: the screening time
                // the console shows.
                let sent = v.audit().iter().rev().find(|e| e.action == Action::StartScreening).map(|e| e.at);
                *waited.lock().unwrap_or_else(|e| e.into_inner()) = sent.map(|at| (now - at).max(0));
                v.record_answer(answer, now)
            })
            .await?;
        if let Some(secs) = waited.into_inner().unwrap_or_else(|e| e.into_inner()) {
            let mut times = self.accreditations.screening_secs.lock().unwrap_or_else(|e| e.into_inner());
            if times.len() == SCREENING_SAMPLES {
                times.pop_front();
            }
            times.push_back(secs);
        }
        Ok(state)
    }
}

/// The screening loop: a pass every few seconds until shutdown.
pub async fn screening_loop(app: App, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    loop {
        if let Err(e) = app.screening_pass().await {
            tracing::warn!(error = %e, "screening pass failed");
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(2)) => {}
            _ = shutdown.changed() => break,
        }
    }
}
