//! Accounts: registration, email verification, sign-in, sign-out, password reset.

use crate::security::SecurityEvent;
use crate::{random_hex, App, AppError, Result};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tessera_airlock::{Alarm, Budget, Gate};
use tessera_domain::{AccountId, Email, NewPassword};
use tessera_store::{Account, AuthSession, NewAccount, Role};

/// Who is making a request, once their token has been checked.
#[derive(Debug, Clone)]
pub struct Principal {
    pub account_id: AccountId,
    pub session_id: String,
    pub email: Email,
    pub display_name: String,
    pub role: Role,
    pub email_verified: bool,
}

impl Principal {
    /// An account acting without a sign-in session: set-up work (the demo's fans, seeded
    /// sales) done on its behalf through the ordinary use cases.
    pub fn of_account(a: &tessera_store::Account) -> Self {
        Principal {
            account_id: a.id,
            session_id: String::new(),
            email: a.email.clone(),
            display_name: a.display_name.clone(),
            role: a.role,
            email_verified: a.email_verified,
        }
    }
}

/// The outcome of a registration. Callers facing the public answer both the same way.
#[derive(Debug)]
pub enum Registered {
    New(Account),
    /// The address already had an account; its owner was mailed.
    Existing(Email),
}

impl Registered {
    /// The address the confirmation (or the notice) went to, normalised.
    pub fn email(&self) -> &Email {
        match self {
            Registered::New(a) => &a.email,
            Registered::Existing(e) => e,
        }
    }
}

pub struct SignedIn {
    pub token: String,
    pub account: Account,
    pub expires_at: tessera_domain::Timestamp,
    /// The known-device token to keep (a cookie, or an app's storage) and send with the next
    /// sign-in; empty when the session was opened without a password.
    pub device: String,
}

const SESSION: &str = "session";
const VERIFY: &str = "verify";
const RESET: &str = "reset";
const DEVICE: &str = "device";
/// How long a browser stays a known device without signing in again.
pub const DEVICE_TTL_SECS: i64 = 365 * 24 * 3600;

/// Attempts refused without a check are counted, not each recorded: a flood of them would
/// flood the security log, and the throttle event already said it began.
fn metrics_refused_while_throttled(app: &App) {
    app.signin_refusals.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

impl App {
    fn argon2(&self) -> Argon2<'static> {
        let c = self.config.password_cost;
        let params = Params::new(c.memory_kib, c.iterations, 1, None).expect("valid argon2 parameters");
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }

    /// Hashing takes tens of milliseconds of CPU on purpose: keep it off the async threads.
    async fn hash_password(&self, password: &NewPassword) -> Result<String> {
        // Every password chosen passes here (registration, reset, staff accounts): one place
        // to refuse a breached one.
        self.refuse_leaked(password.expose(), None)?;
        let argon = self.argon2();
        let pw = password.expose().to_string();
        tokio::task::spawn_blocking(move || {
            let salt = SaltString::generate(&mut rand::rngs::OsRng);
            argon.hash_password(pw.as_bytes(), &salt).map(|h| h.to_string())
        })
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
        .map_err(|e| AppError::Internal(format!("password hashing failed: {e}")))
    }

    pub(crate) async fn password_matches(&self, hash: Option<String>, password: &str) -> bool {
        let argon = self.argon2();
        let pw = password.to_string();
        tokio::task::spawn_blocking(move || {
            // Without an account, verify against a fixed hash anyway so that the answer takes
            // as long as for a real account: timing must not reveal which emails are registered.
            static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
            let dummy = DUMMY.get_or_init(|| {
                let salt = SaltString::generate(&mut rand::rngs::OsRng);
                argon.hash_password(b"no account has this password", &salt).map(|h| h.to_string()).unwrap_or_default()
            });
            let h = hash.as_deref().unwrap_or(dummy);
            let ok = PasswordHash::new(h).map(|p| argon.verify_password(pw.as_bytes(), &p).is_ok()).unwrap_or(false);
            ok && hash.is_some()
        })
        .await
        .unwrap_or(false)
    }

    /// Registers a fan. The answer is the same whether or not the address already had an
    /// account, so that registration does not tell an attacker which addresses are customers:
    /// for an existing account the owner gets a mail instead (and the same password hashing
    /// and mail queueing happen, so the time taken does not tell either).
    pub async fn register(&self, email: &str, password: &str, display_name: &str) -> Result<Registered> {
        self.register_at(email, password, display_name, None).await
    }

    /// [`App::register`] from a known address: each registration is a security event (bursts
    /// of them from one network are bots making accounts).
    pub async fn register_at(
        &self,
        email: &str,
        password: &str,
        display_name: &str,
        source: Option<std::net::IpAddr>,
    ) -> Result<Registered> {
        let result = self.register_account(email, password, display_name).await;
        if result.is_ok() {
            let mut e = tessera_detect::Event::new(self.now_ms(), tessera_detect::Kind::Registered);
            e.outcome = tessera_detect::Outcome::Success;
            e.source = source;
            e.user = Some(self.tokens().keyed_digest(&email.trim().to_lowercase()));
            self.observe(e);
        }
        result
    }

    async fn register_account(&self, email: &str, password: &str, display_name: &str) -> Result<Registered> {
        match self.create_account(email, password, display_name, Role::Fan).await {
            Ok(account) => Ok(Registered::New(account)),
            Err(AppError::Store(tessera_store::StoreError::Conflict(_))) => {
                let email = Email::parse(email).map_err(|m| AppError::invalid("email", m))?;
                if let Some(owner) = self.store.account_by_email(&email).await? {
                    self.send_already_registered(&owner).await?;
                }
                Ok(Registered::Existing(email))
            }
            Err(e) => Err(e),
        }
    }

    async fn send_already_registered(&self, account: &Account) -> Result<()> {
        let body = format!(
            "Hello {},\n\nsomeone asked to open a Tessera account with this address, which already has one.\n\
             If it was you, sign in at {}/login, or choose a new password at {}/reset.\n\
             If it was not you, there is nothing to do: your account is unchanged.\n",
            account.display_name, self.config.public_url, self.config.public_url
        );
        self.store.enqueue_mail(account.email.as_str(), "You already have an account", &body, self.now()).await?;
        Ok(())
    }

    /// Creates an account of any role (operators come from `tessera admin`).
    pub async fn create_account(&self, email: &str, password: &str, display_name: &str, role: Role) -> Result<Account> {
        let email = Email::parse(email).map_err(|m| AppError::invalid("email", m))?;
        let password = NewPassword::parse(password, &email).map_err(|m| AppError::invalid("password", m))?;
        let display_name = display_name.trim();
        if display_name.is_empty() || display_name.chars().count() > 80 || display_name.chars().any(char::is_control) {
            return Err(AppError::invalid("display_name", "give a name of 1 to 80 printable characters"));
        }
        let password_hash = self.hash_password(&password).await?;
        let now = self.now();
        let account = self
            .store
            .create_account(&NewAccount { email, password_hash, display_name: display_name.to_string(), role, now })
            .await?;
        self.send_verification(&account).await?;
        tracing::info!(account = %account.id, "account registered");
        Ok(account)
    }

    pub async fn send_verification(&self, account: &Account) -> Result<()> {
        let expires = self.now().plus_secs(self.config.verify_ttl_secs);
        let token = self.tokens().sign(VERIFY, &[&account.id.0.to_string()], expires);
        let body = format!(
            "Hello {},\n\nconfirm your email address for the official Tessera ticket shop:\n\n{}/verify?token={}\n\n\
             The link is valid until {}. If you did not register, ignore this mail.\n",
            account.display_name, self.config.public_url, token, expires
        );
        self.store.enqueue_mail(account.email.as_str(), "Confirm your email address", &body, self.now()).await?;
        Ok(())
    }

    pub async fn verify_email(&self, token: &str) -> Result<AccountId> {
        let fields = self.tokens().verify(VERIFY, token, self.now()).map_err(|e| AppError::BadToken(e.as_str()))?;
        let id = parse_id(&fields, 0)?;
        self.store.mark_email_verified(id).await?;
        // Cached principals still say "unverified"; let them be read again.
        self.caches.principals.clear();
        self.tell_nodes(crate::cluster::NodeEvent::CredentialsChanged).await;
        Ok(id)
    }

    /// Confirms the email and, the first time only, signs the fan in (the link came to their
    /// mailbox, which is what a sign-in by mail proves): `None` when the address was already
    /// confirmed, so that an old link is not a lasting way in.
    pub async fn verify_email_and_sign_in(&self, token: &str) -> Result<Option<SignedIn>> {
        let fields = self.tokens().verify(VERIFY, token, self.now()).map_err(|e| AppError::BadToken(e.as_str()))?;
        let id = parse_id(&fields, 0)?;
        let before = self.store.account(id).await?;
        self.verify_email(token).await?;
        match before {
            Some(mut a) if !a.email_verified => {
                a.email_verified = true;
                Ok(Some(self.issue_session(a).await?))
            }
            _ => Ok(None),
        }
    }

    /// Signs in from a device that has no known-device token (see [`App::login_from`]).
    pub async fn login(&self, email: &str, password: &str) -> Result<SignedIn> {
        self.login_from(email, password, None).await
    }

    /// Checks the password within the account's sign-in budget: a few failures are free, then
    /// each attempt waits longer, and while it waits no password is checked. `device` is the
    /// known-device token a successful sign-in gave this browser or app: its attempts draw on a
    /// budget of their own, so strangers guessing at the account never lock its owner out.
    pub async fn login_from(&self, email: &str, password: &str, device: Option<&str>) -> Result<SignedIn> {
        self.login_at(email, password, device, None).await
    }

    /// [`App::login_from`], from a known address: the attempt, failed or not, is a security
    /// event for the engine (`soc.rs`), which sees credential stuffing by its sources.
    pub async fn login_at(
        &self,
        email: &str,
        password: &str,
        device: Option<&str>,
        source: Option<std::net::IpAddr>,
    ) -> Result<SignedIn> {
        let result = self.check_login(email, password, device).await;
        let kind = match &result {
            Ok(_) => tessera_detect::Kind::SigninSucceeded,
            Err(AppError::BadCredentials) => tessera_detect::Kind::SigninFailed,
            Err(_) => return result,
        };
        let mut event = tessera_detect::Event::new(self.now_ms(), kind);
        event.outcome =
            if result.is_ok() { tessera_detect::Outcome::Success } else { tessera_detect::Outcome::Failure };
        event.source = source;
        // The name tried, keyed: the engine counts distinct names, it needs no address book.
        event.user = Some(self.tokens().keyed_digest(&email.trim().to_lowercase()));
        event.account = result.as_ref().ok().map(|s| s.account.id.0 as u64);
        self.observe(event);
        result
    }

    async fn check_login(&self, email: &str, password: &str, device: Option<&str>) -> Result<SignedIn> {
        let typed: String = email.trim().to_lowercase().chars().take(320).collect();
        let account = match Email::parse(email) {
            Ok(e) => self.store.account_by_email(&e).await?,
            Err(_) => None,
        };
        let device_id = device
            .and_then(|t| self.tokens().verify(DEVICE, t, self.now()).ok())
            .filter(|f| account.as_ref().is_some_and(|a| f.first() == Some(&a.id.0.to_string().as_str())))
            .and_then(|f| f.get(1).map(|d| d.to_string()));
        let budget = match &device_id {
            Some(d) => Budget::KnownDevice(typed.clone(), d.clone()),
            None => Budget::Strangers(typed.clone()),
        };
        let now_ms = self.now_ms();
        if let Gate::Wait { retry_after_ms } = self.signin.gate(&budget, now_ms) {
            metrics_refused_while_throttled(self);
            return Err(AppError::SignInThrottled { retry_after_secs: (retry_after_ms + 999) / 1000 });
        }
        let ok = password.len() <= 1024
            && self.password_matches(account.as_ref().map(|a| a.password_hash.clone()), password).await;
        let Some(account) = account.filter(|_| ok) else {
            self.signin_failed(&budget, &typed, now_ms);
            return Err(AppError::BadCredentials);
        };
        self.signin.succeeded(&budget);
        let device_id = device_id.unwrap_or_else(|| random_hex(16));
        let mut signed = self.issue_session(account).await?;
        let expires = self.now().plus_secs(DEVICE_TTL_SECS);
        signed.device = self.tokens().sign(DEVICE, &[&signed.account.id.0.to_string(), &device_id], expires);
        Ok(signed)
    }

    fn signin_failed(&self, budget: &Budget, typed: &str, now_ms: i64) {
        let (kind, failures) = match self.signin.failed(budget, now_ms) {
            Alarm::None => return,
            Alarm::Throttled { failures } => ("signin_throttled", failures),
            Alarm::Burst { failures } => ("signin_failure_burst", failures),
        };
        let from = match budget {
            Budget::Strangers(_) => "unknown devices",
            Budget::KnownDevice(..) => "a known device",
        };
        self.security.record(SecurityEvent {
            at: self.now(),
            kind,
            subject: format!("address:{}", self.tokens().keyed_digest(typed)),
            detail: format!("{failures} failed sign-ins in a row from {from}"),
        });
    }

    /// Opens a sign-in session for an account whose credentials were checked (or, in the
    /// benchmark and the demo, which were just created by the operator's own tooling).
    pub async fn issue_session(&self, account: Account) -> Result<SignedIn> {
        let now = self.now();
        let session = AuthSession {
            id: random_hex(16),
            account_id: account.id,
            created_at: now,
            expires_at: now.plus_secs(self.config.sign_in_ttl_secs),
        };
        self.store.create_auth_session(&session).await?;
        let token = self.tokens().sign(
            SESSION,
            &[&session.id, &account.id.0.to_string(), &account.credential_epoch.to_string()],
            session.expires_at,
        );
        Ok(SignedIn { token, account, expires_at: session.expires_at, device: String::new() })
    }

    /// Checks a sign-in token (bearer or cookie) and that its session still exists (as of at
    /// most a few seconds ago: see [`crate::cache`]).
    pub async fn authenticate(&self, token: &str) -> Result<std::sync::Arc<Principal>> {
        let fields = self.tokens().verify(SESSION, token, self.now()).map_err(|_| AppError::Unauthenticated)?;
        let (session_id, account_id) = (fields.first().ok_or(AppError::Unauthenticated)?, parse_id(&fields, 1)?);
        if let Some(p) = self.caches.principals.get(*session_id) {
            if p.account_id == account_id {
                return Ok(p);
            }
        }
        let found = match self.store.session_account(session_id).await {
            Ok(found) => found,
            // The store does not answer: a sign-in checked here not long ago still holds
            // (see `crate::cache`); without one, the fault (a 503), never a refusal.
            Err(e) if e.is_fault() => {
                match self.caches.principals.get_stale(*session_id, crate::cache::STORE_DOWN_GRACE) {
                    Some(p) if p.account_id == account_id => return Ok(p),
                    _ => return Err(e.into()),
                }
            }
            Err(e) => return Err(e.into()),
        };
        let (session, account) = found.ok_or(AppError::Unauthenticated)?;
        if session.account_id != account_id || session.expires_at <= self.now() {
            return Err(AppError::Unauthenticated);
        }
        let p = Principal {
            account_id,
            session_id: session.id,
            email: account.email,
            display_name: account.display_name,
            role: account.role,
            email_verified: account.email_verified,
        };
        let p = std::sync::Arc::new(p);
        self.caches.principals.put(p.session_id.clone(), p.clone());
        Ok(p)
    }

    /// Whether `token` is the sign-in of an operator or analyst (staff) this node checked in the last few seconds
    /// (see [`crate::cache`]), without a store read: the edge asks it for every request, to let
    /// operators past the limits meant for the public. A cold cache answers `false`, and the
    /// request then meets the ordinary limits once, until its handler has signed it in again.
    pub fn is_known_operator(&self, token: &str) -> bool {
        let Ok(fields) = self.tokens().verify(SESSION, token, self.now()) else { return false };
        let (Some(session_id), Ok(account)) = (fields.first(), parse_id(&fields, 1)) else { return false };
        self.caches
            .principals
            .get(*session_id)
            .is_some_and(|p| p.account_id == account && p.role != tessera_store::Role::Fan)
    }

    pub async fn logout(&self, principal: &Principal) -> Result<()> {
        self.store.delete_auth_session(&principal.session_id).await?;
        self.caches.principals.remove(&principal.session_id);
        self.tell_nodes(crate::cluster::NodeEvent::SignedOut { session_id: principal.session_id.clone() }).await;
        Ok(())
    }

    /// Always succeeds, so that the answer does not reveal whether the email has an account.
    pub async fn request_password_reset(&self, email: &str) -> Result<()> {
        let Ok(email) = Email::parse(email) else {
            return Ok(());
        };
        let account = self.store.account_by_email(&email).await?;
        // Asked for, whether the account exists or not (the answer says nothing either way;
        // the engine sees a burst of resets on one name, or from one source).
        self.observe_now(tessera_detect::Kind::PasswordReset, |e| {
            e.user = Some(self.tokens().keyed_digest(email.as_str()));
            e.account = account.as_ref().map(|a| a.id.0 as u64);
            e.outcome =
                if account.is_some() { tessera_detect::Outcome::Success } else { tessera_detect::Outcome::Failure };
        });
        let Some(account) = account else {
            return Ok(());
        };
        let (link, expires) = self.reset_link(&account);
        let body = format!(
            "Hello {},\n\nsomeone asked to reset the password of your Tessera account. To choose a new one:\n\n\
             {link}\n\nThe link works once, until {expires}. If it was not you, ignore this mail.\n",
            account.display_name
        );
        self.store.enqueue_mail(account.email.as_str(), "Reset your password", &body, self.now()).await?;
        Ok(())
    }

    /// A single-use link to choose a new password, and when it stops working: the credential
    /// epoch in it is bumped by the reset, so the link works once.
    pub(crate) fn reset_link(&self, account: &tessera_store::Account) -> (String, tessera_domain::Timestamp) {
        let expires = self.now().plus_secs(self.config.reset_ttl_secs);
        let token =
            self.tokens().sign(RESET, &[&account.id.0.to_string(), &account.credential_epoch.to_string()], expires);
        (format!("{}/reset?token={token}", self.config.public_url), expires)
    }

    pub async fn reset_password(&self, token: &str, new_password: &str) -> Result<()> {
        let fields = self.tokens().verify(RESET, token, self.now()).map_err(|e| AppError::BadToken(e.as_str()))?;
        let id = parse_id(&fields, 0)?;
        let epoch: i64 = fields.get(1).and_then(|e| e.parse().ok()).ok_or(AppError::BadToken("malformed"))?;
        let account = self.store.account(id).await?.ok_or(AppError::BadToken("unknown account"))?;
        if account.credential_epoch != epoch {
            return Err(AppError::BadToken("already used"));
        }
        let password =
            NewPassword::parse(new_password, &account.email).map_err(|m| AppError::invalid("password", m))?;
        let hash = self.hash_password(&password).await?;
        self.store.set_password_hash(id, &hash).await?;
        self.caches.principals.clear();
        self.tell_nodes(crate::cluster::NodeEvent::CredentialsChanged).await;
        Ok(())
    }
}

fn parse_id(fields: &[&str], i: usize) -> Result<AccountId> {
    fields.get(i).and_then(|f| f.parse().ok()).map(AccountId).ok_or(AppError::BadToken("malformed"))
}
