//! Leaked passwords (`tessera_lookalike::leaks`): the set of known-breached password hashes
//! this node holds, refused wherever a password is chosen (registration, reset, staff
//! accounts), served to anyone as Have I Been Pwned's k-anonymous range query, and an
//! imported dump's own accounts reset by force. No leaked password is kept in clear: dumps are
//! hashed line by line as they are read, and the set holds SHA-1 digests only.

use crate::{App, AppError, Result};
use std::io::BufRead;
use std::sync::Arc;
use tessera_lookalike::leaks::{self, LeakedSet, LeakedSetBuilder, PaddingKey, Sha1Hash};
use zeroize::Zeroize;

/// The file a node loads its set from, in its data directory: `SHA1:COUNT` lines, sorted.
pub const LEAKED_FILE: &str = "leaked-passwords.txt";
/// Longest line read from a dump or a hash list; longer ones are counted as bad.
const MAX_LINE: usize = 1024;

/// What an import read.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct LeakImport {
    pub lines: u64,
    pub hashes: u64,
    pub bad_lines: u64,
    /// Dump lines whose email is an account here.
    pub accounts_named: u64,
    /// Of those, accounts whose current password is the leaked one: reset by force and told.
    pub accounts_reset: u64,
}

impl App {
    /// Puts `set` in force (a node's start, a reload of its file).
    pub fn set_leaked_passwords(&self, set: LeakedSet) {
        *self.leaked.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(set));
    }

    /// Hashes in the set in force.
    pub fn leaked_password_count(&self) -> usize {
        self.leaked.read().unwrap_or_else(|e| e.into_inner()).as_ref().map_or(0, |s| s.len())
    }

    /// Refuses a password found in a breach (`field` names the password field for the
    /// caller); the refusal is a security event, without the password.
    pub(crate) fn refuse_leaked(&self, password: &str, account: Option<u64>) -> Result<()> {
        let leaked = self
            .leaked
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .is_some_and(|s| s.contains_password(password.as_bytes()));
        if !leaked {
            return Ok(());
        }
        self.observe_now(tessera_detect::Kind::CredentialLeaked, |e| {
            e.outcome = tessera_detect::Outcome::Failure;
            e.account = account;
            e.message = Some("a password from a known breach was refused".into());
        });
        Err(AppError::invalid(
            "password",
            "this password appears in a known data breach: choose another (long, and used nowhere else)",
        ))
    }

    /// Have I Been Pwned's range query: the suffixes of leaked hashes under a 5-hex-digit
    /// prefix, padded with fakes of count 0 to 1,000 lines, so neither the prefix asked nor the
    /// answer's size tells which password was checked.
    pub fn leaked_range(&self, prefix: &str) -> Result<Vec<String>> {
        let key = PaddingKey::new(self.derived_key(b"tessera leaked range padding", b""));
        let set = self.leaked.read().unwrap_or_else(|e| e.into_inner()).clone();
        let empty;
        let set = match &set {
            Some(s) => s.as_ref(),
            None => {
                empty = LeakedSet::from_hashes([]);
                &empty
            }
        };
        set.range(prefix, &key).map_err(|e| AppError::invalid("prefix", e.to_string()))
    }

    /// An account named in a dump with this password hash: if it is the account's current
    /// password, the password is replaced by an unusable one (every sign-in ends), a reset
    /// link is mailed, and the security engine hears of it. `true` when reset.
    pub async fn reset_if_leaked(&self, email: &leaks::Email, sha1: &Sha1Hash, password: Option<&str>) -> Result<bool> {
        let Ok(email) = tessera_domain::Email::parse(email.as_str()) else { return Ok(false) };
        let Some(account) = self.store.account_by_email(&email).await? else { return Ok(false) };
        // Only a dump with the password itself can be checked against the account's Argon2id
        // hash; a hash-only line names nobody.
        let Some(password) = password else { return Ok(false) };
        if leaks::sha1_of(password.as_bytes()) != *sha1
            || !self.password_matches(Some(account.password_hash.clone()), password).await
        {
            return Ok(false);
        }
        let unusable = format!("leaked:{}", crate::random_hex(32));
        self.store.set_password_hash(account.id, &unusable).await?;
        self.caches.principals.clear();
        self.tell_nodes(crate::cluster::NodeEvent::CredentialsChanged).await;
        // The account as it is now (its credential epoch moved): the link must be for that.
        let account = self.store.account(account.id).await?.unwrap_or(account);
        let (link, expires) = self.reset_link(&account);
        let body = format!(
            "Hello {},\n\nthe password of your Tessera account appeared in a data breach published elsewhere \
             (not a breach of Tessera). We have signed you out everywhere and disabled that password. Choose a \
             new one, used nowhere else:\n\n{link}\n\nThe link works once, until {expires}.\n",
            account.display_name
        );
        self.store
            .enqueue_mail(
                account.email.as_str(),
                "Your password was in a data breach: choose a new one",
                &body,
                self.now(),
            )
            .await?;
        self.observe_now(tessera_detect::Kind::CredentialLeaked, |e| {
            e.outcome = tessera_detect::Outcome::Success;
            e.account = Some(account.id.0 as u64);
            e.message = Some("the account's password was in an imported dump: reset by force".into());
        });
        Ok(true)
    }

    /// Reads a dump (`email:password` lines) or a hash list (`SHA1:COUNT`, or HIBP's range
    /// files' `SUFFIX:COUNT` when `range_prefix` is given) into a set, merged with `base`; a
    /// dump's accounts are checked and reset as [`App::reset_if_leaked`] says. `progress`
    /// hears the bytes read. Passwords are hashed as read and the line buffer wiped.
    pub async fn import_leaks(
        &self,
        input: impl BufRead,
        base: Option<&LeakedSet>,
        mut progress: impl FnMut(u64),
    ) -> Result<(LeakedSet, LeakImport)> {
        let mut builder = LeakedSetBuilder::default();
        if let Some(b) = base {
            for (h, c) in b.iter() {
                builder.push(h, u64::from(c));
            }
        }
        let mut report = LeakImport::default();
        let mut input = input;
        let mut line = String::new();
        let mut read = 0u64;
        loop {
            line.clear();
            let n = input.read_line(&mut line).map_err(|e| AppError::invalid("input", e.to_string()))?;
            if n == 0 {
                break;
            }
            read += n as u64;
            report.lines += 1;
            if report.lines % 65_536 == 0 {
                progress(read);
            }
            if n > MAX_LINE || line.trim().is_empty() {
                report.bad_lines += u64::from(n > MAX_LINE);
                line.zeroize();
                continue;
            }
            let trimmed = line.trim_end();
            if let Ok((hash, count)) = leaks::parse_hash_line(trimmed) {
                builder.push(hash, count);
                report.hashes += 1;
                continue;
            }
            // A dump line: the password is hashed here and the buffer wiped before anything
            // else happens; the account check needs the password once more, from a copy
            // that is wiped as soon as it is done.
            let mut copy = trimmed.split_once(':').map(|(_, p)| p.to_string());
            match leaks::parse_dump_line_wiping(&mut line) {
                Ok(leak) => {
                    builder.push(leak.sha1, 1);
                    report.hashes += 1;
                    if let Ok(e) = tessera_domain::Email::parse(leak.email.as_str()) {
                        if self.store.account_by_email(&e).await?.is_some() {
                            report.accounts_named += 1;
                            if self.reset_if_leaked(&leak.email, &leak.sha1, copy.as_deref()).await? {
                                report.accounts_reset += 1;
                            }
                        }
                    }
                }
                Err(_) => report.bad_lines += 1,
            }
            if let Some(c) = copy.as_mut() {
                c.zeroize();
            }
        }
        progress(read);
        Ok((builder.build(), report))
    }
}

/// Writes `set` as `SHA1:COUNT` lines, sorted (the file a node loads).
pub fn write_leaked_file(path: &std::path::Path, set: &LeakedSet) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        for (h, c) in set.iter() {
            writeln!(w, "{}:{c}", hex::encode_upper(h))?;
        }
        w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    }
    std::fs::rename(tmp, path)
}

/// Reads the file [`write_leaked_file`] wrote (or any `SHA1:COUNT` list); bad lines skipped
/// and counted.
pub fn read_leaked_file(path: &std::path::Path) -> std::io::Result<(LeakedSet, u64)> {
    let file = std::io::BufReader::new(std::fs::File::open(path)?);
    let mut builder = LeakedSetBuilder::default();
    let mut bad = 0;
    for line in file.lines() {
        match leaks::parse_hash_line(line?.trim_end()) {
            Ok((h, c)) => builder.push(h, c),
            Err(_) => bad += 1,
        }
    }
    Ok((builder.build(), bad))
}
