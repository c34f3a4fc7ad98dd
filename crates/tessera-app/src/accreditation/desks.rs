//! Collection desks: their encrypted lists, the hand-overs they sync, their offline switch.

use super::*;

impl App {
    /// The desk's list of cards to hand over (desk operators and staff): signed by the badge
    /// key, encrypted under the desk's key; nothing in it reads without that key.
    pub async fn desk_list(&self, who: &Principal, desk: &str) -> Result<Vec<u8>> {
        if !matches!(who.role, Role::Operator | Role::Accreditation | Role::Desk) {
            return Err(AppError::Forbidden("collection desks and accreditation staff only".into()));
        }
        let desk = DeskCode::parse(desk).map_err(|e| AppError::invalid("desk", e.to_string()))?;
        let mut entries = Vec::new();
        let mut after = 0;
        loop {
            let q = AccreditationQuery { org: None, state: Some("approved".into()), after, limit: 5_000 };
            let rows = self.store.accreditations(&q).await?;
            let Some(last) = rows.last() else { break };
            after = last.id;
            for r in rows.iter().filter(|r| r.serial > 0) {
                let a = self.application_of(r)?;
                entries.push(tessera_accreditation::desk::ListEntry::for_application(
                    PersonId(r.id as u64),
                    (r.serial - 1) as u16,
                    &a,
                    [0; 32],
                ));
            }
        }
        self.personal_data_read(who, None, &format!("desk list {desk} ({} people)", entries.len()));
        let (now, people) = (self.now().0, entries.len() as u64);
        self.touch_desk(&desk.to_string(), |d| {
            d.list_at = Some(now);
            d.list_people = people;
        });
        // Desks trust the badge key: one public key for cards and lists.
        let signer = ed25519_dalek::SigningKey::from_bytes(&self.badge_key().secret_bytes());
        tessera_accreditation::desk::build(
            &desk,
            self.now().0,
            &entries,
            &signer,
            &self.desk_key(&desk),
            &mut rand::rngs::OsRng,
        )
        .map_err(|e| AppError::Internal(e.to_string()))
    }

    /// Cards handed over at a desk (online, or an offline desk's sync): each card once; a card
    /// since revoked is kept and flagged for staff.
    pub async fn record_hand_overs(&self, who: &Principal, desk: &str, cards: &[(i64, i64, i64)]) -> Result<u64> {
        if !matches!(who.role, Role::Operator | Role::Accreditation | Role::Desk) {
            return Err(AppError::Forbidden("collection desks and accreditation staff only".into()));
        }
        let desk = DeskCode::parse(desk).map_err(|e| AppError::invalid("desk", e.to_string()))?;
        if cards.len() > 10_000 {
            return Err(AppError::invalid("cards", "at most 10,000 hand-overs at once"));
        }
        let mut rows = Vec::with_capacity(cards.len());
        for &(person, serial, at) in cards {
            let row = self.store.accreditation(person).await?;
            let flagged = match &row {
                Some(r) => r.state != "approved" || r.serial != serial + 1,
                None => return Err(AppError::invalid("cards", format!("no application {person}"))),
            };
            rows.push(StoredHandOver {
                person,
                serial,
                desk: desk.to_string(),
                at: Timestamp(at),
                by: who.email.as_str().to_owned(),
                flagged,
            });
        }
        let new = self.store.record_hand_overs(&rows).await?;
        // A sync, even an empty one, is the desk's heartbeat; its counts are read from the store.
        self.touch_desk(&desk.to_string(), |_| {});
        Ok(new)
    }

    /// Whether a desk is switched to its offline list, as this node knows it: what a desk's
    /// sync hears back, so that its own page shows the switch staff made on the console.
    pub fn desk_offline_mode(&self, desk: &str) -> bool {
        let desks = self.accreditations.desks.lock().unwrap_or_else(|e| e.into_inner());
        match desks.get(desk) {
            Some(d) => d.offline_mode,
            None => self.mode_on(crate::toc::Mode::DesksOfflineLists),
        }
    }

    pub(super) fn touch_desk(&self, desk: &str, f: impl FnOnce(&mut DeskStatus)) {
        self.toc.heard(desk, self.now_ms());
        let mut desks = self.accreditations.desks.lock().unwrap_or_else(|e| e.into_inner());
        if desks.len() >= MAX_DESKS && !desks.contains_key(desk) {
            return;
        }
        let offline_first = self.mode_on(crate::toc::Mode::DesksOfflineLists);
        let d = desks.entry(desk.to_owned()).or_insert_with(|| DeskStatus {
            desk: desk.to_owned(),
            // A desk first heard while the desks work offline starts on its list too.
            offline_mode: offline_first,
            ..Default::default()
        });
        d.last_contact = self.now().0;
        f(d);
    }

    /// Switches a desk to working from its offline list (or back), audited: the desk itself
    /// or accreditation staff, in one action. In force here at once, and on every node within
    /// two seconds ([`App::refresh_desk_modes`]); if the store cannot take it, on this node
    /// only until it can.
    pub async fn set_desk_mode(&self, who: &Principal, desk: &str, offline: bool) -> Result<DeskStatus> {
        if !matches!(who.role, Role::Operator | Role::Accreditation | Role::Desk) {
            return Err(AppError::Forbidden("collection desks and accreditation staff only".into()));
        }
        let code = DeskCode::parse(desk).map_err(|e| AppError::invalid("desk", e.to_string()))?;
        let switch = DeskSwitch { offline, by: who.email.as_str().to_owned(), at: self.now().0 };
        self.apply_desk_switch(&code.to_string(), &switch);
        self.audit(
            who,
            format!("desk {code} switched {}", if offline { "to its offline list" } else { "back online" }),
        );
        let doc = tessera_store::TocDocument {
            key: code.to_string(),
            open: offline,
            json: serde_json::to_string(&switch).unwrap_or_default(),
            updated_at: self.now(),
        };
        if let Err(e) = self.store.put_toc_document(tessera_store::TocKind::DeskMode, &doc).await {
            tracing::warn!(error = %e, desk = %code, "desk switch not shared with the other nodes");
        }
        let desks = self.accreditations.desks.lock().unwrap_or_else(|e| e.into_inner());
        desks.get(&code.to_string()).cloned().ok_or_else(|| AppError::Conflict("too many desks known".into()))
    }

    /// Applies the desks' switches made on any node (the operations centre's loop, every
    /// other second): the latest switch of each desk wins. How many desks it read.
    pub async fn refresh_desk_modes(&self) -> Result<usize> {
        let docs = self.store.toc_documents(tessera_store::TocKind::DeskMode, MAX_DESKS as i64).await?;
        for doc in &docs {
            match serde_json::from_str::<DeskSwitch>(&doc.json) {
                Ok(switch) => self.apply_desk_switch(&doc.key, &switch),
                Err(e) => tracing::debug!(desk = %doc.key, error = %e, "a shared desk switch not applied here"),
            }
        }
        Ok(docs.len())
    }

    /// Puts `switch` in force for `desk` unless a later one already is.
    fn apply_desk_switch(&self, desk: &str, switch: &DeskSwitch) {
        let mut desks = self.accreditations.desks.lock().unwrap_or_else(|e| e.into_inner());
        if desks.len() >= MAX_DESKS && !desks.contains_key(desk) {
            return;
        }
        let d =
            desks.entry(desk.to_owned()).or_insert_with(|| DeskStatus { desk: desk.to_owned(), ..Default::default() });
        if d.switched_at.is_some_and(|at| at > switch.at) {
            return;
        }
        d.offline_mode = switch.offline;
        d.switched_by = Some(switch.by.clone());
        d.switched_at = Some(switch.at);
    }
}

/// A desk's switch as the nodes share it (a `desk_mode` document in the store).
#[derive(Debug, Serialize, Deserialize)]
struct DeskSwitch {
    offline: bool,
    by: String,
    /// Unix seconds.
    at: i64,
}
