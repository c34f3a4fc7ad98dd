//! CSV imports of applications: parsed whole, stored in chunks, followed by id for a
//! progress bar and a per-line report.

use super::*;

/// Where an import stands.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportStatus {
    pub id: u64,
    pub records: u64,
    pub bytes: u64,
    pub total_bytes: u64,
    pub added: u64,
    pub duplicates: u64,
    pub over_quota: u64,
    pub rejected: u64,
    /// Line errors (at most [`MAX_REPORTED_ERRORS`]), in file order.
    pub errors: Vec<ImportLineError>,
    pub done: bool,
    /// Set when the import stopped on a fault (nothing after the last stored chunk was kept).
    pub failed: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ImportLineError {
    pub line: u64,
    pub column: Option<String>,
    pub message: String,
}

impl From<&LineError> for ImportLineError {
    fn from(e: &LineError) -> Self {
        ImportLineError { line: e.line, column: e.column.map(str::to_owned), message: e.message.clone() }
    }
}

impl App {
    /// Starts a CSV import for the officer's organisations; returns its id. The file is parsed
    /// whole first (a bad header stores nothing), then stored in chunks, each one transaction;
    /// progress is read with [`App::import_status`].
    pub async fn start_import(&self, who: &Principal, csv: Vec<u8>) -> Result<u64> {
        if csv.len() > MAX_IMPORT_BYTES {
            return Err(AppError::invalid("file", format!("larger than {} MiB", MAX_IMPORT_BYTES >> 20)));
        }
        let orgs = self.officer_of(who).await?;
        if orgs.is_empty() && !matches!(who.role, Role::Operator | Role::Accreditation) {
            return Err(AppError::Forbidden("only an organisation's officers import applications".into()));
        }
        let id = rand::random::<u64>() >> 12;
        let (app, who) = (self.clone(), who.clone());
        {
            let mut imports = self.accreditations.imports.lock().unwrap_or_else(|e| e.into_inner());
            if imports.values().filter(|(_, s)| !s.done).count() >= MAX_IMPORTS_RUNNING {
                return Err(AppError::Conflict(format!(
                    "{MAX_IMPORTS_RUNNING} imports are running; try again when one is done"
                )));
            }
            while imports.len() >= MAX_IMPORTS_KEPT {
                let Some(oldest) = imports.iter().filter(|(_, (_, s))| s.done).map(|(k, _)| *k).next() else { break };
                imports.remove(&oldest);
            }
            let status = ImportStatus { id, total_bytes: csv.len() as u64, ..ImportStatus::default() };
            imports.insert(id, (who.account_id.0, status));
        }
        tokio::spawn(async move {
            let outcome = app.run_import(id, &who, &csv).await;
            app.update_import(id, |s| {
                s.done = true;
                if let Err(e) = outcome {
                    s.failed = Some(e.to_string());
                }
            });
        });
        Ok(id)
    }

    pub(super) fn update_import(&self, id: u64, f: impl FnOnce(&mut ImportStatus)) {
        if let Some((_, s)) = self.accreditations.imports.lock().unwrap_or_else(|e| e.into_inner()).get_mut(&id) {
            f(s);
        }
    }

    /// An import's progress and report, for the account that started it (or staff).
    pub fn import_status(&self, who: &Principal, id: u64) -> Option<ImportStatus> {
        let imports = self.accreditations.imports.lock().unwrap_or_else(|e| e.into_inner());
        let (owner, status) = imports.get(&id)?;
        let staff = matches!(who.role, Role::Operator | Role::Accreditation);
        (staff || *owner == who.account_id.0).then(|| status.clone())
    }

    /// The import itself (also run directly by the benchmark and tests): returns its status.
    pub async fn run_import(&self, id: u64, who: &Principal, csv: &[u8]) -> Result<ImportStatus> {
        let ctx = self.parse_context();
        let report = import_csv(csv, &ctx, |p: Progress| {
            self.update_import(id, |s| {
                s.records = p.records;
                s.bytes = p.bytes;
            })
        })
        .map_err(|e| AppError::invalid("file", e.to_string()))?;
        let orgs = self.organisations().await?;
        let staff = matches!(who.role, Role::Operator | Role::Accreditation);
        let allowed: Vec<&OrgRecord> =
            orgs.iter().filter(|o| staff || o.officers.contains(&who.account_id.0)).collect();
        let mut status = ImportStatus {
            id,
            records: report.records,
            total_bytes: csv.len() as u64,
            bytes: csv.len() as u64,
            rejected: report.rejected,
            errors: report.errors.iter().take(MAX_REPORTED_ERRORS).map(ImportLineError::from).collect(),
            ..ImportStatus::default()
        };
        let quotas = Self::quotas(&orgs);
        let mut pending: Vec<(u64, NewAccreditation)> = Vec::with_capacity(IMPORT_CHUNK);
        let mut lines = report.applications.iter().peekable();
        while let Some(imported) = lines.next() {
            let org = imported.application.organisation().to_string();
            if !allowed.iter().any(|o| o.code == org) {
                status.rejected += 1;
                if status.errors.len() < MAX_REPORTED_ERRORS {
                    status.errors.push(ImportLineError {
                        line: imported.line,
                        column: Some("organisation".into()),
                        message: format!("`{org}` is not an organisation you are an officer of"),
                    });
                }
            } else {
                pending.push((imported.line, self.new_row(who, &imported.application, None)?));
            }
            if pending.len() == IMPORT_CHUNK || (lines.peek().is_none() && !pending.is_empty()) {
                let rows: Vec<NewAccreditation> = pending.iter().map(|(_, r)| r.clone()).collect();
                let outcomes = self.store.add_accreditations(&rows, &quotas).await?;
                for ((line, row), outcome) in pending.drain(..).zip(outcomes) {
                    let message = match outcome {
                        Added::Added(_) => {
                            status.added += 1;
                            continue;
                        }
                        Added::Duplicate(other) => {
                            status.duplicates += 1;
                            format!(
                                "the same person (name, date of birth, document) already applied: application {other}"
                            )
                        }
                        Added::OverQuota => {
                            status.over_quota += 1;
                            format!("{}'s quota for category {} is full", row.org, row.category)
                        }
                    };
                    if status.errors.len() < MAX_REPORTED_ERRORS {
                        status.errors.push(ImportLineError { line, column: None, message });
                    }
                }
                let s = status.clone();
                self.update_import(id, move |st| {
                    st.added = s.added;
                    st.duplicates = s.duplicates;
                    st.over_quota = s.over_quota;
                    st.rejected = s.rejected;
                    st.errors = s.errors;
                });
            }
        }
        status.errors.sort_by_key(|e| e.line);
        let s = status.clone();
        self.update_import(id, move |st| *st = ImportStatus { done: st.done, ..s });
        Ok(status)
    }
}
