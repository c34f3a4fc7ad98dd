//! Catalogue pages: the session list with its search and filters, and a session.

use super::*;

// ---- catalogue --------------------------------------------------------------------------

#[derive(Deserialize, Default)]
pub(super) struct SessionsQuery {
    /// Words in the title, sport, code, venue or city.
    q: Option<String>,
    sport: Option<String>,
    venue: Option<String>,
    /// A local day of the event, `2024-07-27`.
    day: Option<String>,
    /// In whole euros.
    max_price: Option<String>,
    available: Option<String>,
    page: Option<i64>,
}

pub(super) const PER_PAGE: i64 = 50;

/// Percent-encodes a query value (everything but letters, digits and `-_.~`).
pub(super) fn enc(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The session list with search, filters and the event's days: a fan finds a session by
/// sport (a chip on the home page or here) and day (the strip of days) in two clicks.
pub(super) async fn sessions(
    State(s): State<AppState>,
    MaybeAuthed(who): MaybeAuthed,
    PageQuery(q): PageQuery<SessionsQuery>,
) -> PageResult {
    let page = q.page.unwrap_or(0).clamp(0, 1000);
    let keep = |v: &Option<String>| v.as_deref().map(str::trim).filter(|x| !x.is_empty()).map(str::to_string);
    let (text, sport, venue) = (keep(&q.q), keep(&q.sport), keep(&q.venue));
    let mut problems = Vec::new();
    let text = text.filter(|t| {
        let ok = t.chars().count() <= 100;
        if !ok {
            problems.push("search for at most 100 characters".to_string());
        }
        ok
    });
    let day = keep(&q.day).and_then(|d| match d.parse::<jiff::civil::Date>() {
        Ok(date) => Some(date),
        Err(_) => {
            problems.push(format!("{d:?} is not a date; give it as 2024-07-27"));
            None
        }
    });
    let max_price = keep(&q.max_price).and_then(|p| match p.parse::<i64>() {
        Ok(e) if (0..=100_000).contains(&e) => Some(Cents(e * 100)),
        _ => {
            problems.push(format!("{p:?} is not a price in euros"));
            None
        }
    });
    let available = q.available.as_deref().is_some_and(|a| !a.is_empty() && a != "0");
    let zone = &s.app.config.event_zone;
    let bounds = day.and_then(|d| zone.day_bounds(d));
    let filter = SessionFilter {
        sport: sport.clone(),
        venue: venue.clone(),
        available_only: available,
        from: bounds.map(|b| b.0),
        until: bounds.map(|b| b.1),
        max_price,
        text: text.clone(),
        limit: PER_PAGE,
        offset: page * PER_PAGE,
    };
    let list = s.app.store.list_sessions(&filter).await?;
    let facets = s.app.catalogue_facets().await?;
    let csrf = who.as_ref().map(|p| csrf_for(&s, p));
    // The same filters as a query string, for the pages, the days and the live updates.
    let mut params: Vec<(&str, String)> = Vec::new();
    for (k, v) in [("q", &text), ("sport", &sport), ("venue", &venue)] {
        if let Some(v) = v {
            params.push((k, v.clone()));
        }
    }
    if let Some(p) = max_price {
        params.push(("max_price", (p.0 / 100).to_string()));
    }
    if available {
        params.push(("available", "1".into()));
    }
    let query = |extra: &[(&str, String)]| -> String {
        params.iter().chain(extra).map(|(k, v)| format!("{k}={}", enc(v))).collect::<Vec<_>>().join("&")
    };
    let day_param: Vec<(&str, String)> = day.map(|d| vec![("day", d.to_string())]).unwrap_or_default();
    let mut api = format!("/api/v1/sessions?limit={PER_PAGE}&offset={}", page * PER_PAGE);
    for (k, v) in [("q", &text), ("sport", &sport), ("venue", &venue)] {
        if let Some(v) = v {
            api.push_str(&format!("&{k}={}", enc(v)));
        }
    }
    if let Some((from, until)) = bounds {
        api.push_str(&format!("&from={}&until={}", enc(&from.to_rfc3339()), enc(&until.to_rfc3339())));
    }
    if let Some(p) = max_price {
        api.push_str(&format!("&max_price_cents={}", p.0));
    }
    if available {
        api.push_str("&available=true");
    }
    let page_link = |n: i64| {
        let mut extra = day_param.clone();
        extra.push(("page", n.to_string()));
        format!("/sessions?{}", query(&extra))
    };
    let body = html! {
        h1 { (tr("Sessions", "Séances")) }
        form.filters method="get" action="/sessions" role="search" {
            label { (tr("Search", "Rechercher")) input type="search" name="q" value=[text.as_deref()] placeholder=(tr("sport, venue, city, title", "sport, site, ville, titre")); }
            label { "Sport" select name="sport" {
                option value="" { (tr("Any sport", "Tous les sports")) }
                @for (name, n) in &facets.sports { option value=(name) selected[sport.as_deref() == Some(name)] { (name) " (" (n) ")" } }
            } }
            label { (tr("Venue", "Site")) select name="venue" {
                option value="" { (tr("Any venue", "Tous les sites")) }
                @for (code, name, n) in &facets.venues { option value=(code) selected[venue.as_deref() == Some(code)] { (name) " (" (n) ")" } }
            } }
            label { (tr("Day", "Jour")) select name="day" {
                option value="" { (tr("Any day", "Tous les jours")) }
                @for (d, n) in &facets.days { option value=(d) selected[day == Some(*d)] { (i18n::short_day(*d)) " (" (n) ")" } }
            } }
            label { (tr("Price up to (€)", "Prix jusqu'à (€)")) input type="number" name="max_price" min="0" max="100000" step="1" inputmode="numeric" value=[max_price.map(|p| p.0 / 100)]; }
            label.check { input type="checkbox" name="available" value="1" checked[available]; (tr("Seats left only", "Places disponibles seulement")) }
            button.primary type="submit" { (tr("Find", "Chercher")) }
        }
        @for p in &problems { p.error role="alert" { (p) } }
        nav.days aria-label=(tr("Days of the event", "Jours de l'événement")) {
            a href={"/sessions?" (query(&[]))} aria-current=[day.is_none().then_some("page")] { (tr("All days", "Tous les jours")) }
            @for (d, n) in &facets.days {
                a href={"/sessions?" (query(&[("day", d.to_string())]))} aria-current=[(day == Some(*d)).then_some("page")] {
                    strong { (i18n::short_day(*d)) } " " span.muted { "· " (n) }
                }
            }
        }
        p.muted { (list.len()) @if list.len() as i64 == PER_PAGE { "+" } (tr(" sessions. Seats left update live every few seconds.", " séances. Les places disponibles se mettent à jour toutes les quelques secondes.")) }
        table #sessions data-api=(api) {
            tr { th { (tr("Session", "Séance")) } th { (tr("When", "Quand")) " (" (zone.city()) ")" } th { (tr("Venue", "Site")) } th { (tr("From", "À partir de")) } th { (tr("Seats left", "Places restantes")) } }
            @for x in &list {
                tr {
                    td { a href={"/sessions/" (x.code)} { span.mono { (x.code) } " " (x.title) } @if x.ceremony { " " span.badge { (tr("ceremony", "cérémonie")) } } }
                    td { (when(&s, x.starts_at)) }
                    td { (x.venue_name) ", " (x.city) }
                    td { (euros(x.min_price)) }
                    td data-avail=(x.code) { @if x.available == 0 { span.soldout { "sold out" } } @else { (thousands(x.available)) } }
                }
            }
        }
        @if list.is_empty() { p { (tr("No session matches. ", "Aucune séance ne correspond. ")) a href="/sessions" { (tr("Show them all", "Les voir toutes")) } } }
        p {
            @if page > 0 { a href=(page_link(page - 1)) { (tr("← previous", "← précédentes")) } " " }
            @if list.len() as i64 == PER_PAGE { a href=(page_link(page + 1)) { (tr("next →", "suivantes →")) } }
        }
        script { (PreEscaped(LIVE_AVAILABILITY_JS)) }
    };
    let status = if problems.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    Ok((status, layout(tr("Sessions", "Séances"), who.as_deref(), csrf.as_deref(), s.demo, body)).into_response())
}

pub(crate) const LIVE_AVAILABILITY_JS: &str = r#"
(function(){
  const t=document.getElementById('sessions'); if(!t) return;
  async function tick(){
    try{
      const r=await fetch(t.dataset.api,{headers:{accept:'application/json'}}); if(!r.ok) return;
      for(const s of await r.json()){
        const c=document.querySelector('[data-avail="'+s.code+'"]'); if(!c) continue;
        c.innerHTML = s.available===0 ? '<span class="soldout">sold out</span>' : s.available.toLocaleString('en');
      }
    }catch(e){}
  }
  setInterval(tick,3000);
})();
"#;

pub(super) async fn session(
    State(s): State<AppState>,
    MaybeAuthed(who): MaybeAuthed,
    Path(code): Path<String>,
) -> PageResult {
    let d = s.app.store.session(&code).await?.ok_or_else(|| ApiError::not_found(&format!("session {code}")))?;
    // Seats go to a cart of a phase in which this fan's purchase slot is open now, never to
    // whichever phase happens to be drawn last; without such a slot there is nothing to add.
    let mut open = Vec::new();
    if let Some(w) = &who {
        let now = s.app.now();
        for p in s.app.store.list_phases().await?.into_iter().filter(|p| p.status == PhaseStatus::Drawn) {
            if s.app.store.slot(p.id, w.account_id).await?.is_some_and(|sl| sl.is_open(now)) {
                open.push(p);
            }
        }
    }
    let csrf = who.as_ref().map(|p| csrf_for(&s, p));
    let x = &d.summary;
    let body = html! {
        h1 { span.mono { (x.code) } " " (x.title) }
        (super::contingency_notice(&s, &[tessera_app::toc::Mode::ShopReadOnly, tessera_app::toc::Mode::ShopQueueOnly]))
        p { (x.sport) " · " (when(&s, x.starts_at)) " – " (when(&s, x.ends_at)) " (Paris) · " (x.venue_name) ", " (x.city) }
        p.muted { (tr("Entrances: ", "Entrées : ")) (d.zones.join(", ")) }
        @if x.ceremony { p { span.badge { (tr("ceremony", "cérémonie")) } (tr(" at most 4 tickets per account", " 4 billets par compte au plus")) } }
        table {
            tr { th { (tr("Category", "Catégorie")) } th { (tr("Price", "Prix")) } th { (tr("Seats left", "Places restantes")) } th {} }
            @for c in &d.categories {
                tr {
                    td { (c.name) }
                    td { (euros(c.price)) }
                    td { @if c.available == 0 { span.soldout { (tr("sold out", "complet")) } } @else { (thousands(c.available)) (tr(" of ", " sur ")) (thousands(c.quota)) } }
                    td {
                        @if let Some(csrf) = &csrf {
                            @if c.available > 0 {
                                @for p in &open {
                                    form method="post" action={"/phases/" (p.code) "/cart"} style="display:flex;gap:.4rem;align-items:center" {
                                        input type="hidden" name="csrf" value=(csrf);
                                        input type="hidden" name="category_id" value=(c.id.0);
                                        label { span.visually-hidden { (tr("Tickets", "Billets")) } input type="number" name="quantity" value="1" min="1" max="6" style="width:4rem;margin:0"; }
                                        button.primary type="submit" { (tr("Add to cart", "Ajouter au panier")) @if open.len() > 1 { " · " (p.name) } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if who.is_none() { p { a href="/login" { (tr("Sign in", "Connectez-vous")) } (tr(" to buy.", " pour acheter.")) } }
        @if who.is_some() && open.is_empty() {
            p.muted { (tr("You have no purchase slot open now: seats go to a cart only during your slot. ",
                          "Vous n'avez pas de créneau d'achat ouvert : les places ne vont au panier que pendant votre créneau. "))
                a href="/" { (tr("See the sales phases", "Voir les phases de vente")) } "." }
        }
    };
    Ok(layout(&x.title, who.as_deref(), csrf.as_deref(), s.demo, body).into_response())
}
