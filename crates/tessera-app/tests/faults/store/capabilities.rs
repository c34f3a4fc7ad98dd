//! The forwarding of the later capabilities' traits (key revocations to volunteers): see
//! `store.rs`.

use super::FaultyStore;
use async_trait::async_trait;
use tessera_domain::*;
use tessera_store::*;

#[async_trait]
impl KeyRevocations for FaultyStore {
    async fn revoke_keys(&self, r: &KeyRevocation) -> Result<()> {
        self.before("revoke_keys")?;
        let r = self.inner.revoke_keys(r).await;
        self.after("revoke_keys", r)
    }

    async fn key_revocations(&self) -> Result<Vec<KeyRevocation>> {
        self.before("key_revocations")?;
        let r = self.inner.key_revocations().await;
        self.after("key_revocations", r)
    }
}

#[async_trait]
impl TocStore for FaultyStore {
    async fn record_switch(&self, switch: &SwitchRecord) -> Result<i64> {
        self.before("record_switch")?;
        let r = self.inner.record_switch(switch).await;
        self.after("record_switch", r)
    }

    async fn switch_log(&self, after: i64, limit: i64) -> Result<Vec<SwitchRecord>> {
        self.before("switch_log")?;
        let r = self.inner.switch_log(after, limit).await;
        self.after("switch_log", r)
    }

    async fn put_toc_document(&self, kind: TocKind, doc: &TocDocument) -> Result<()> {
        self.before("put_toc_document")?;
        let r = self.inner.put_toc_document(kind, doc).await;
        self.after("put_toc_document", r)
    }

    async fn toc_documents(&self, kind: TocKind, limit: i64) -> Result<Vec<TocDocument>> {
        self.before("toc_documents")?;
        let r = self.inner.toc_documents(kind, limit).await;
        self.after("toc_documents", r)
    }
}

#[async_trait]
impl ResultsStore for FaultyStore {
    async fn save_result_change(&self, epoch: i64, seq: i64, doc_key: &str, change_json: Option<&str>) -> Result<()> {
        self.before("save_result_change")?;
        let r = self.inner.save_result_change(epoch, seq, doc_key, change_json).await;
        self.after("save_result_change", r)
    }

    async fn result_feed(&self) -> Result<Option<StoredFeed>> {
        self.before("result_feed")?;
        let r = self.inner.result_feed().await;
        self.after("result_feed", r)
    }
}

#[async_trait]
impl AccreditationStore for FaultyStore {
    async fn put_organisation(&self, code: &str, json: &str) -> Result<()> {
        self.before("put_organisation")?;
        let r = self.inner.put_organisation(code, json).await;
        self.after("put_organisation", r)
    }

    async fn organisations(&self) -> Result<Vec<(String, String)>> {
        self.before("organisations")?;
        let r = self.inner.organisations().await;
        self.after("organisations", r)
    }

    async fn add_accreditations(&self, rows: &[NewAccreditation], quotas: &[QuotaLimit]) -> Result<Vec<Added>> {
        self.before("add_accreditations")?;
        let r = self.inner.add_accreditations(rows, quotas).await;
        self.after("add_accreditations", r)
    }

    async fn accreditation(&self, id: i64) -> Result<Option<StoredAccreditation>> {
        self.before("accreditation")?;
        let r = self.inner.accreditation(id).await;
        self.after("accreditation", r)
    }

    async fn accreditations(&self, q: &AccreditationQuery) -> Result<Vec<StoredAccreditation>> {
        self.before("accreditations")?;
        let r = self.inner.accreditations(q).await;
        self.after("accreditations", r)
    }

    async fn update_accreditation(&self, u: &AccreditationUpdate) -> Result<bool> {
        self.before("update_accreditation")?;
        let r = self.inner.update_accreditation(u).await;
        self.after("update_accreditation", r)
    }

    async fn accreditation_counts(&self) -> Result<Vec<AccreditationCount>> {
        self.before("accreditation_counts")?;
        let r = self.inner.accreditation_counts().await;
        self.after("accreditation_counts", r)
    }

    async fn record_hand_overs(&self, rows: &[StoredHandOver]) -> Result<u64> {
        self.before("record_hand_overs")?;
        let r = self.inner.record_hand_overs(rows).await;
        self.after("record_hand_overs", r)
    }

    async fn badge_revocations(&self) -> Result<(Vec<i64>, Vec<(i64, i64)>)> {
        self.before("badge_revocations")?;
        let r = self.inner.badge_revocations().await;
        self.after("badge_revocations", r)
    }

    async fn hand_overs(&self, person: i64) -> Result<Vec<StoredHandOver>> {
        self.before("hand_overs")?;
        let r = self.inner.hand_overs(person).await;
        self.after("hand_overs", r)
    }

    async fn hand_over_figures(&self) -> Result<HandOverFigures> {
        self.before("hand_over_figures")?;
        let r = self.inner.hand_over_figures().await;
        self.after("hand_over_figures", r)
    }
}

#[async_trait]
impl VolunteerStore for FaultyStore {
    async fn add_volunteer_applications(&self, rows: &[NewVolunteerApplication]) -> Result<Vec<i64>> {
        self.before("add_volunteer_applications")?;
        let r = self.inner.add_volunteer_applications(rows).await;
        self.after("add_volunteer_applications", r)
    }

    async fn volunteer_application(&self, id: i64) -> Result<Option<StoredVolunteerApplication>> {
        self.before("volunteer_application")?;
        let r = self.inner.volunteer_application(id).await;
        self.after("volunteer_application", r)
    }

    async fn volunteer_application_of(&self, account: i64) -> Result<Option<StoredVolunteerApplication>> {
        self.before("volunteer_application_of")?;
        let r = self.inner.volunteer_application_of(account).await;
        self.after("volunteer_application_of", r)
    }

    async fn volunteer_applications(&self, after: i64, limit: i64) -> Result<Vec<StoredVolunteerApplication>> {
        self.before("volunteer_applications")?;
        let r = self.inner.volunteer_applications(after, limit).await;
        self.after("volunteer_applications", r)
    }

    async fn put_volunteer_programme(&self, json: &str, now: Timestamp) -> Result<()> {
        self.before("put_volunteer_programme")?;
        let r = self.inner.put_volunteer_programme(json, now).await;
        self.after("put_volunteer_programme", r)
    }

    async fn volunteer_programme(&self) -> Result<Option<String>> {
        self.before("volunteer_programme")?;
        let r = self.inner.volunteer_programme().await;
        self.after("volunteer_programme", r)
    }

    async fn save_volunteer_run(&self, run: &NewVolunteerRun) -> Result<i64> {
        self.before("save_volunteer_run")?;
        let r = self.inner.save_volunteer_run(run).await;
        self.after("save_volunteer_run", r)
    }

    async fn latest_volunteer_run(&self) -> Result<Option<StoredVolunteerRun>> {
        self.before("latest_volunteer_run")?;
        let r = self.inner.latest_volunteer_run().await;
        self.after("latest_volunteer_run", r)
    }

    async fn volunteer_run(&self, id: i64) -> Result<Option<StoredVolunteerRun>> {
        self.before("volunteer_run")?;
        let r = self.inner.volunteer_run(id).await;
        self.after("volunteer_run", r)
    }

    async fn volunteer_offers(&self, application: Option<i64>) -> Result<Vec<StoredVolunteerOffer>> {
        self.before("volunteer_offers")?;
        let r = self.inner.volunteer_offers(application).await;
        self.after("volunteer_offers", r)
    }

    async fn answer_volunteer_offer(&self, id: i64, application: i64, accept: bool, now: Timestamp) -> Result<bool> {
        self.before("answer_volunteer_offer")?;
        let r = self.inner.answer_volunteer_offer(id, application, accept, now).await;
        self.after("answer_volunteer_offer", r)
    }

    async fn add_volunteer_override(&self, o: &NewVolunteerOverride) -> Result<i64> {
        self.before("add_volunteer_override")?;
        let r = self.inner.add_volunteer_override(o).await;
        self.after("add_volunteer_override", r)
    }

    async fn volunteer_overrides(&self) -> Result<Vec<StoredVolunteerOverride>> {
        self.before("volunteer_overrides")?;
        let r = self.inner.volunteer_overrides().await;
        self.after("volunteer_overrides", r)
    }

    async fn save_volunteer_roster(&self, at: Timestamp, json: &str) -> Result<i64> {
        self.before("save_volunteer_roster")?;
        let r = self.inner.save_volunteer_roster(at, json).await;
        self.after("save_volunteer_roster", r)
    }

    async fn volunteer_roster(&self) -> Result<Option<StoredVolunteerRoster>> {
        self.before("volunteer_roster")?;
        let r = self.inner.volunteer_roster().await;
        self.after("volunteer_roster", r)
    }

    async fn volunteer_counts(&self, now: Timestamp) -> Result<VolunteerCounts> {
        self.before("volunteer_counts")?;
        let r = self.inner.volunteer_counts(now).await;
        self.after("volunteer_counts", r)
    }
}
