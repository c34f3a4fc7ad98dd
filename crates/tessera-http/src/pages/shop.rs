//! The shop of a phase: lottery entry, slot, cart, checkout, the fan's orders, and the demo mailbox.

use super::*;

// ---- a phase: lottery, slot, cart, checkout ---------------------------------------------

pub(super) async fn phase(
    State(s): State<AppState>,
    MaybeAuthed(who): MaybeAuthed,
    Path(code): Path<String>,
    headers: axum::http::HeaderMap,
) -> PageResult {
    let p = s.app.phase(&code).await?;
    let room = s.app.airlock.room(&code).map(|r| r.settings());
    let admitted = match &who {
        Some(w) => {
            room.is_some() && s.app.check_admission(w, &code, crate::extract::admission_of(&headers).as_deref()).is_ok()
        }
        None => false,
    };
    let now = s.app.now();
    let csrf = who.as_ref().map(|w| csrf_for(&s, w));
    let (entry, slot, cart) = match &who {
        Some(w) => (
            s.app.store.entry(p.id, w.account_id).await?,
            s.app.store.slot(p.id, w.account_id).await?,
            s.app.store.current_cart(w.account_id, p.id, now).await?,
        ),
        None => (None, None, None),
    };
    let idem = tessera_app::random_hex(16);
    let body = html! {
        h1 { (p.name) }
        (super::contingency_notice(&s, &[tessera_app::toc::Mode::ShopReadOnly, tessera_app::toc::Mode::ShopQueueOnly, tessera_app::toc::Mode::WaitingRoomPaused]))
        p { span.badge { (phase_status_text(p.status)) } " " (p.entries) " entries" }
        div.card {
            h2 { (tr("The draw, verifiable by anyone", "Le tirage, vérifiable par tous")) }
            @if let Some(c) = &p.seed_sha256 { p { (tr("Seed commitment (SHA-256): ", "Engagement de la graine (SHA-256) : ")) span.mono { (c) } } }
            @if let Some(e) = &p.entries_sha256 { p { (tr("Entry list digest: ", "Empreinte de la liste des inscriptions : ")) span.mono { (e) } } }
            p.muted { (tr("Files: ", "Fichiers : "))
                a href={"/api/v1/phases/" (p.code) "/commitment.json"} { "commitment.json" } " · "
                a href={"/api/v1/phases/" (p.code) "/entries.txt"} { "entries.txt" } " · "
                a href={"/api/v1/phases/" (p.code) "/result.json"} { "result.json" }
                ". Check them with " span.mono { "tessera admin verify-draw" } "." }
        }
        @if let Some(r) = &room {
            div.card #waiting-room {
                h2 { (tr("Waiting room", "File d'attente")) }
                @if admitted {
                    p.ok { (tr("You are admitted to the shop: choose your seats and pay before your admission expires.", "Vous êtes admis dans la boutique : choisissez vos places et payez avant l'expiration de votre admission.")) }
                } @else {
                    p { "The shop of this phase opens through a waiting room at " strong { (when(&s, Timestamp(r.room.opens_at_ms.div_euclid(1000)))) } " (Paris). "
                        "Everyone who arrives before then gets a random place; after that, first come, first served." }
                    p { a.button href={ "/phases/" (p.code) "/queue" } { (tr("Join the queue", "Rejoindre la file")) } }
                }
            }
        }
        div.card {
            h2 { (tr("Your entry", "Votre inscription")) }
            @match (&who, &entry) {
                (None, _) => { p { a href="/login" { (tr("Sign in", "Connectez-vous")) } (tr(" to enter.", " pour vous inscrire.")) } }
                (Some(_), Some(e)) => { p.ok { (tr("You are in the draw. Your entry code: ", "Vous participez au tirage. Votre code d'inscription : ")) span.mono { (e.entry_code) } } }
                (Some(w), None) => {
                    @if p.status == PhaseStatus::Registration {
                        @if !w.email_verified { p.error { (tr("Confirm your email address first (see your mailbox).", "Confirmez d'abord votre adresse e-mail (voir votre courrier).")) } }
                        form method="post" action={"/phases/" (p.code) "/enter"} {
                            input type="hidden" name="csrf" value=(csrf.clone().unwrap_or_default());
                            button.primary type="submit" { (tr("Enter the lottery", "S'inscrire au tirage")) }
                        }
                    } @else { p.muted { (tr("This phase does not take entries now.", "Cette phase ne prend pas d'inscriptions en ce moment.")) } }
                }
            }
            @if let Some(sl) = &slot {
                p { "Drawn at rank " strong { (sl.rank) } " (wave " (sl.wave) "). Your purchase slot: "
                    strong { (when(&s, sl.starts_at)) " – " (when(&s, sl.ends_at)) } " (Paris)." }
                @if sl.is_open(now) { p.ok { (tr("Your slot is open: ", "Votre créneau est ouvert : ")) a href="/sessions" { (tr("choose your sessions", "choisissez vos séances")) } "." } }
                @else if now < sl.starts_at { p.muted { (tr("Your slot has not opened yet.", "Votre créneau n'est pas encore ouvert.")) } }
                @else { p.muted { (tr("Your slot has ended.", "Votre créneau est terminé.")) } }
            } @else if entry.is_some() && p.status == PhaseStatus::Drawn {
                p.muted { (tr("Your entry was not drawn in this phase.", "Votre inscription n'a pas été tirée dans cette phase.")) }
            }
        }
        @if let Some(c) = &cart {
            div.card {
                h2 { (tr("Your cart", "Votre panier")) }
                p.muted { (tr("Seats are held until ", "Places réservées jusqu'à ")) span #expiry data-expires=(c.expires_at.0) { (when(&s, c.expires_at)) } "." }
                table {
                    tr { th { (tr("Session", "Séance")) } th { (tr("Category", "Catégorie")) } th { (tr("Qty", "Qté")) } th { (tr("Price", "Prix")) } th {} }
                    @for l in &c.lines {
                        tr {
                            td { span.mono { (l.session_code) } " " (l.session_title) }
                            td { (l.category_name) }
                            td { (l.qty) }
                            td { (euros(Cents(l.unit_price.0 * l.qty))) }
                            td { form method="post" action={"/phases/" (p.code) "/cart/remove"} {
                                input type="hidden" name="csrf" value=(csrf.clone().unwrap_or_default());
                                input type="hidden" name="category_id" value=(l.category_id.0);
                                button type="submit" { (tr("Remove", "Retirer")) } } }
                        }
                    }
                    tr { th colspan="3" { "Total" } th { (euros(c.total())) } th {} }
                }
                h3 { (tr("Pay", "Payer")) }
                p.muted { "Sandbox payments: use 4242 4242 4242 4242, any future expiry, any 3-digit code. 4000 0000 0000 0002 is declined." }
                form method="post" action={"/phases/" (p.code) "/checkout"} {
                    input type="hidden" name="csrf" value=(csrf.clone().unwrap_or_default());
                    input type="hidden" name="cart_id" value=(c.id.0);
                    input type="hidden" name="idempotency_key" value=(idem);
                    label { (tr("Card holder", "Titulaire de la carte")) input name="holder" required value=(who.as_ref().map(|w| w.display_name.clone()).unwrap_or_default()); }
                    label { (tr("Card number", "Numéro de carte")) input name="number" required inputmode="numeric" autocomplete="cc-number"; }
                    label { (tr("Expiry month", "Mois d'expiration")) input name="exp_month" type="number" min="1" max="12" required; }
                    label { (tr("Expiry year", "Année d'expiration")) input name="exp_year" type="number" min="2024" max="2100" required; }
                    label { (tr("Security code", "Code de sécurité")) input name="cvc" required inputmode="numeric" maxlength="4"; }
                    button.primary type="submit" { (tr("Pay ", "Payer ")) (euros(c.total())) }
                }
                script { (PreEscaped(COUNTDOWN_JS)) }
            }
        }
    };
    Ok(layout(&p.name, who.as_deref(), csrf.as_deref(), s.demo, body).into_response())
}

pub(crate) const COUNTDOWN_JS: &str = r#"
(function(){
  const e=document.getElementById('expiry'); if(!e) return;
  const end=Number(e.dataset.expires)*1000;
  function tick(){ const s=Math.max(0,Math.round((end-Date.now())/1000));
    e.textContent = s>0 ? Math.floor(s/60)+' min '+String(s%60).padStart(2,'0')+' s from now' : 'now: the seats were released'; }
  tick(); setInterval(tick,1000);
})();
"#;

pub(super) fn signed_in(who: Option<std::sync::Arc<Principal>>) -> Result<std::sync::Arc<Principal>, PageError> {
    who.ok_or_else(need_login)
}

pub(super) async fn enter(
    State(s): State<AppState>,
    MaybeAuthed(who): MaybeAuthed,
    Path(code): Path<String>,
    PageForm(f): PageForm<CsrfForm>,
) -> PageResult {
    let who = signed_in(who)?;
    check_csrf(&s, &who, &f.csrf)?;
    s.app.enter_lottery(&who, &code).await?;
    Ok(Redirect::to(&format!("/phases/{code}")).into_response())
}

#[derive(Deserialize)]
pub(super) struct CartForm {
    csrf: String,
    category_id: i64,
    quantity: Option<i64>,
}

pub(super) async fn add_to_cart(
    State(s): State<AppState>,
    MaybeAuthed(who): MaybeAuthed,
    Path(code): Path<String>,
    headers: axum::http::HeaderMap,
    PageForm(f): PageForm<CartForm>,
) -> PageResult {
    let who = signed_in(who)?;
    check_csrf(&s, &who, &f.csrf)?;
    s.app.check_admission(&who, &code, crate::extract::admission_of(&headers).as_deref())?;
    s.app.add_to_cart(&who, &code, CategoryId(f.category_id), f.quantity.unwrap_or(1)).await?;
    Ok(Redirect::to(&format!("/phases/{code}")).into_response())
}

pub(super) async fn remove_from_cart(
    State(s): State<AppState>,
    MaybeAuthed(who): MaybeAuthed,
    Path(code): Path<String>,
    PageForm(f): PageForm<CartForm>,
) -> PageResult {
    let who = signed_in(who)?;
    check_csrf(&s, &who, &f.csrf)?;
    let cart = s.app.cart(&who, &code).await?.ok_or_else(|| ApiError::not_found("cart"))?;
    s.app.remove_from_cart(&who, cart.id, CategoryId(f.category_id)).await?;
    Ok(Redirect::to(&format!("/phases/{code}")).into_response())
}

#[derive(Deserialize)]
pub(super) struct CheckoutForm {
    csrf: String,
    cart_id: i64,
    idempotency_key: String,
    holder: String,
    number: String,
    exp_month: u32,
    exp_year: u32,
    cvc: String,
}

pub(super) async fn checkout(
    State(s): State<AppState>,
    MaybeAuthed(who): MaybeAuthed,
    Path(code): Path<String>,
    headers: axum::http::HeaderMap,
    PageForm(f): PageForm<CheckoutForm>,
) -> PageResult {
    let who = signed_in(who)?;
    check_csrf(&s, &who, &f.csrf)?;
    s.app.check_admission(&who, &code, crate::extract::admission_of(&headers).as_deref())?;
    let req = CheckoutRequest {
        cart: CartId(f.cart_id),
        idempotency_key: f.idempotency_key,
        card: Card { number: f.number, exp_month: f.exp_month, exp_year: f.exp_year, cvc: f.cvc, holder: f.holder },
    };
    let order = s.app.checkout(&who, &code, &req).await?;
    metrics::counter!("tessera_orders_paid_total").increment(1);
    // Redirect after the post, so that a reload does not post again; the order page confirms.
    Ok(Redirect::to(&format!("/orders?paid={}", enc(&order.code))).into_response())
}

#[derive(Deserialize)]
pub(super) struct OrdersQuery {
    /// The order just paid, to confirm at the top (only if it is this fan's).
    paid: Option<String>,
}

pub(super) async fn orders(
    State(s): State<AppState>,
    MaybeAuthed(who): MaybeAuthed,
    PageQuery(q): PageQuery<OrdersQuery>,
) -> PageResult {
    let who = signed_in(who)?;
    let orders = s.app.orders(&who).await?;
    let csrf = csrf_for(&s, &who);
    let paid = q.paid.as_deref().and_then(|code| orders.iter().find(|o| o.code == code));
    let body = html! {
        @if let Some(o) = paid {
            div.card.ok role="status" {
                h1 { "Thank you: order " span.mono { (o.code) } " is paid" }
                p { (o.tickets.len()) @if o.tickets.len() == 1 { " ticket" } @else { " tickets" } ", " (euros(o.total)) " charged to your card." }
                p { "Your phone tickets appear in the " a href="/wallet" { "wallet" } " a few hours before each session: "
                    "open it on the phone you will bring to the gate." }
            }
        }
        h1 { (tr("My tickets", "Mes billets")) }
        @if orders.is_empty() { p.muted { (tr("No tickets yet.", "Pas encore de billets.")) } }
        @for o in &orders {
            div.card {
                h2 { (tr("Order ", "Commande ")) span.mono { (o.code) } }
                p.muted { "Paid " (when(&s, o.created_at)) " · " (euros(o.total)) }
                table tabindex="0" aria-label="Tickets" {
                    tr { th { "Ticket" } th { "Session" } th { "When (Paris)" } th { "Venue" } th { "Category" } }
                    @for t in &o.tickets {
                        tr { td.mono { (t.code) } td { span.mono { (t.session_code) } " " (t.session_title) }
                             td { (when(&s, t.starts_at)) } td { (t.venue_name) } td { (t.category_name) } }
                    }
                }
            }
        }
    };
    Ok(layout("My tickets", Some(&who), Some(&csrf), s.demo, body).into_response())
}

pub(super) async fn mailbox(State(s): State<AppState>, MaybeAuthed(who): MaybeAuthed) -> PageResult {
    if !s.demo {
        return Err(PageError(ApiError::not_found("page")));
    }
    // Only one's own mail: the outbox holds sign-in and password-reset links, so showing it
    // to anyone would let a visitor reset the operator's password and read the link. An
    // operator sees every mail; an anonymous visitor none (the person running the demo has
    // the .eml files).
    let mails = match &who {
        None => Vec::new(),
        Some(w) if w.role == tessera_store::Role::Operator => {
            let mails = s.app.store.recent_mail(None, 50).await?;
            // Others' mail is their personal data: each read is an event (and audited).
            for m in mails.iter().filter(|m| m.to != w.email.as_str()) {
                let subject = match tessera_domain::Email::parse(&m.to) {
                    Ok(e) => s.app.store.account_by_email(&e).await?.map(|a| a.id.0 as u64),
                    Err(_) => None,
                };
                s.app.personal_data_read(w, subject, &format!("read mail {} in the demo mailbox", m.id));
            }
            mails
        }
        Some(w) => s.app.store.recent_mail(Some(w.email.as_str()), 50).await?,
    };
    let csrf = who.as_ref().map(|p| csrf_for(&s, p));
    let body = html! {
        h1 { (tr("Demo mailbox", "Boîte aux lettres de la démo")) }
        p.muted { (tr("In the demo, no mail leaves this machine: the outbox is shown here",
                "Dans la démo, aucun courriel ne quitte cette machine : ils sont affichés ici"))
            @if let Some(d) = &s.mail_dir { (tr(" and written as .eml files to ", " et écrits en fichiers .eml dans ")) span.mono { (d.display()) } }
            ". " @if who.is_none() { (tr("Sign in to read your own mail.", "Connectez-vous pour lire vos courriels.")) } }
        @for m in &mails {
            div.card {
                p { strong { (m.subject) } " → " (m.to) " " span.muted { (when(&s, m.created_at)) } }
                pre style="white-space:pre-wrap" { (linkify(&m.body)) }
            }
        }
    };
    Ok(layout(tr("Mailbox", "Courriels"), who.as_deref(), csrf.as_deref(), s.demo, body).into_response())
}

/// Makes the links in a mail clickable, escaping everything else.
pub(super) fn linkify(text: &str) -> Markup {
    html! {
        @for (i, line) in text.lines().enumerate() {
            @if i > 0 { "\n" }
            @if line.starts_with("http://") || line.starts_with("https://") { a href=(line) { (line) } } @else { (line) }
        }
    }
}
