//! The operator consoles' kit, served by Tessera itself: uPlot (MIT, vendored in
//! `assets/uplot/`, 50 KB) for time charts and `assets/console.js` for polling with a stale
//! banner. A console page puts [`head`] before its own script and calls `TesseraConsole`.

use crate::AppState;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};

const UPLOT_JS: &str = include_str!("../assets/uplot/uPlot.iife.min.js");
const UPLOT_CSS: &str = include_str!("../assets/uplot/uPlot.min.css");
const CONSOLE_JS: &str = include_str!("../assets/console.js");

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/assets/uplot.js", get(|| async { asset("text/javascript", UPLOT_JS) }))
        .route("/assets/uplot.css", get(|| async { asset("text/css", UPLOT_CSS) }))
        .route("/assets/console.js", get(|| async { asset("text/javascript", CONSOLE_JS) }))
}

fn asset(kind: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, kind), (header::CACHE_CONTROL, "max-age=3600")], body).into_response()
}

/// One live figure of a console: its label above, its value (filled in by the page's script,
/// `–` until then) in the element `id`.
pub fn figure(label: &str, id: &str) -> Markup {
    html! { div { span.muted { (label) } strong id=(id) { "–" } } }
}

/// What a console page loads before its own script.
pub fn head() -> Markup {
    html! {
        link rel="stylesheet" href="/assets/uplot.css";
        script src="/assets/uplot.js" {}
        script src="/assets/console.js" {}
    }
}
