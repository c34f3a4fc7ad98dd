//! Badges: issued and reprinted, the printable card, the phone badge, and what gates need to
//! refuse them.

use super::*;

impl App {
    /// Issues the person's card (staff): the first, or a reprint that voids every earlier
    /// one. Only an approved application with screening passed gets one.
    pub async fn issue_badge(&self, who: &Principal, id: i64, reprint: bool) -> Result<IssuedBadge> {
        staff(who)?;
        for _ in 0..CAS_RETRIES {
            let row = self.stored(id).await?;
            let v = self.vetting_of(&row)?;
            let clearance: Clearance = v.clearance().map_err(|e| AppError::Conflict(format!("no badge: {e}")))?;
            if row.serial > 0 && !reprint {
                return Err(AppError::Conflict(format!(
                    "a card was already issued (card {}); a lost card is reprinted, which voids it",
                    row.serial
                )));
            }
            let serial = row.serial + 1;
            let u = AccreditationUpdate {
                id,
                version: row.version,
                state: row.state.clone(),
                vetting: row.vetting.clone(),
                serial,
                photo: None,
                sealed: None,
                now: self.now(),
            };
            if !self.store.update_accreditation(&u).await? {
                continue;
            }
            if reprint {
                self.forget_gate_list();
            }
            return self.badge_for(who, &StoredAccreditation { serial, ..row }, &clearance, None);
        }
        Err(AppError::Conflict(format!("application {id} keeps changing; try again")))
    }

    /// The current card of an application (staff, or the holder's officer): for printing
    /// again the same card, not a new one.
    pub async fn current_badge(&self, who: &Principal, id: i64) -> Result<IssuedBadge> {
        staff(who)?;
        let row = self.stored(id).await?;
        let v = self.vetting_of(&row)?;
        let clearance = v.clearance().map_err(|e| AppError::Conflict(format!("no badge: {e}")))?;
        if row.serial == 0 {
            return Err(AppError::Conflict("no card issued yet".into()));
        }
        self.badge_for(who, &row, &clearance, None)
    }

    /// The current card on the holder's phone: the same badge (person, serial, access, dates)
    /// bound to the P-256 key the phone made (`device_key_raw`: WebCrypto's raw export or
    /// compressed), signed as a phone badge, whose codes renew every ticket step.
    ///
    /// Who: an officer of the holder's organisation, and no one else. Holders have no account
    /// of their own here; their officer submitted the application and reads it already, and
    /// binds the phone in the holder's hands. Staff issue and reprint cards but do not bind
    /// phones (a stolen staff session must not put anyone's badge on an attacker's phone), and
    /// vetting officers only screen. A card must have been issued: the phone badge copies it,
    /// grants nothing more, and a reprint or a revocation voids both. Nothing is stored: binding
    /// again (a new phone) signs the same card for the new key, and the previous phone's badge
    /// works until the next reprint, which is how a lost phone is voided, as a lost card is.
    pub async fn phone_badge(&self, who: &Principal, id: i64, device_key_raw: &[u8]) -> Result<IssuedBadge> {
        if matches!(who.role, Role::Operator | Role::Accreditation | Role::Vetting) {
            return Err(AppError::Forbidden(
                "an officer of the holder's organisation puts the badge on the holder's phone".into(),
            ));
        }
        let device = crate::tickets::device_key(device_key_raw)?;
        let row = self.stored(id).await?;
        let org = self.organisation(&row.org).await?;
        if !org.officers.contains(&who.account_id.0) {
            // As for the application itself: another organisation's people are not said to exist.
            return Err(AppError::NotFound(format!("application {id}")));
        }
        let v = self.vetting_of(&row)?;
        let clearance = v.clearance().map_err(|e| AppError::Conflict(format!("no badge: {e}")))?;
        if row.serial == 0 {
            return Err(AppError::Conflict("no card issued yet: the phone badge copies the card".into()));
        }
        self.badge_for(who, &row, &clearance, Some(device))
    }

    /// The printable card of the current badge (staff): a PDF at ID-1 size with the photo and
    /// the QR code gates read.
    pub async fn badge_card_pdf(&self, who: &Principal, id: i64) -> Result<Vec<u8>> {
        let b = self.current_badge(who, id).await?;
        let offset = self
            .config
            .event_zone
            .tz()
            .to_offset(jiff::Timestamp::from_second(b.badge.valid_from).unwrap_or(jiff::Timestamp::UNIX_EPOCH))
            .seconds();
        let offset = time::UtcOffset::from_whole_seconds(offset).unwrap_or(time::UtcOffset::UTC);
        let face = tessera_accreditation::CardFace::from_badge(&b.badge, &b.function, offset);
        tessera_accreditation::card_pdf(&face, b.photo.as_ref(), &b.text).map_err(|e| AppError::Internal(e.to_string()))
    }

    pub(super) fn badge_for(
        &self,
        who: &Principal,
        row: &StoredAccreditation,
        clearance: &Clearance,
        device_key: Option<[u8; 33]>,
    ) -> Result<IssuedBadge> {
        self.personal_data_read(who, Some(row.id as u64), "accreditation badge");
        let a = self.application_of(row)?;
        let photo = match &row.photo {
            Some(sealed) => {
                let jpeg = self.open_sealed(b"photo", sealed)?;
                Some(
                    tessera_accreditation::photo::prepare(&jpeg, &self.accreditations.photo_policy)
                        .map_err(|e| AppError::Internal(format!("stored photo: {e}")))?,
                )
            }
            None => None,
        };
        let digest = photo.as_ref().map_or([0u8; 32], |p| p.sha256);
        let (from, until) =
            self.accreditations.validity.unwrap_or((self.now().0 - 86_400, self.now().0 + 100 * 86_400));
        let mut badge = tessera_accreditation::Badge::for_application(
            BADGE_KEY_ID,
            PersonId(row.id as u64),
            &a,
            from,
            until,
            digest,
        );
        badge.serial =
            u16::try_from(row.serial - 1).map_err(|_| AppError::Conflict("card serials exhausted".into()))?;
        if let Some(key) = device_key {
            badge = badge.on_phone(key).map_err(|e| AppError::invalid("device_key", e.to_string()))?;
        }
        let signed = self.badge_signer().sign(&badge, clearance).map_err(|e| AppError::Internal(e.to_string()))?;
        Ok(IssuedBadge {
            person: row.id,
            serial: badge.serial,
            text: signed.to_text(),
            signed: signed.as_bytes().to_vec(),
            badge,
            photo,
            function: a.function().as_str().to_owned(),
        })
    }

    /// The gates' revocation list: every revoked person, and every person whose earlier cards
    /// a reprint voided. Read from the store at most once a second (every gate asks four
    /// times a second); a change reaches the gates within that second and their next sync.
    pub async fn badge_revocations(&self) -> Result<Arc<tessera_wire::BadgeRevocations>> {
        if let Some((at, list)) = &*self.accreditations.gate_list.lock().unwrap_or_else(|e| e.into_inner()) {
            if at.elapsed() < std::time::Duration::from_secs(1) {
                return Ok(list.clone());
            }
        }
        let (revoked, reprinted) = self.store.badge_revocations().await?;
        let list = Arc::new(tessera_wire::BadgeRevocations::new(
            revoked.into_iter().map(|p| p as u64).collect(),
            reprinted.into_iter().map(|(p, cards)| (p as u64, u16::try_from(cards - 1).unwrap_or(u16::MAX))).collect(),
        ));
        *self.accreditations.gate_list.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((std::time::Instant::now(), list.clone()));
        Ok(list)
    }

    /// Makes the next read of the gates' list go to the store: a revocation made on this node
    /// reaches its gates at their next sync (other nodes' within their second).
    pub(super) fn forget_gate_list(&self) {
        *self.accreditations.gate_list.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// The badge key gates trust, and the revocations as the bundle carries them.
    pub async fn gate_badges(&self) -> Result<tessera_gate::bundle::BundleBadges> {
        Ok(tessera_gate::bundle::BundleBadges {
            key_id: BADGE_KEY_ID,
            public_key: hex::encode(self.badge_signer().public().as_bytes()),
            revocations: (*self.badge_revocations().await?).clone(),
        })
    }
}
