//! A minimal Chrome DevTools Protocol client, enough to drive Debian's headless Chromium
//! through a page: set a cookie, navigate, read the page by evaluating JavaScript.

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio::io::AsyncBufReadExt;
use tokio_tungstenite::tungstenite::Message;

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub struct Browser {
    ws: Ws,
    next_id: u64,
    session: String,
    _child: tokio::process::Child,
    _profile: tempfile::TempDir,
}

/// The installed Chromium, if any.
pub fn chromium() -> Option<&'static str> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"].into_iter().find(|p| std::path::Path::new(p).exists())
}

/// The installed Chromium; without one, says loudly that test `name` is skipped.
pub fn chromium_or_skip(name: &str) -> Option<&'static str> {
    let c = chromium();
    if c.is_none() {
        use std::io::Write;
        // Straight to stderr: the test harness swallows eprintln! output of passing tests.
        let _ = writeln!(std::io::stderr(), "SKIPPED {name}: no chromium installed (.ci/run installs it)");
    }
    c
}

impl Browser {
    /// Starts a headless Chromium with a fresh profile and opens one blank page.
    pub async fn start(chromium: &str) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let mut child = tokio::process::Command::new(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        // Chromium announces its endpoint on stderr: "DevTools listening on ws://...".
        let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let url = tokio::time::timeout(Duration::from_secs(20), async {
            while let Some(l) = lines.next_line().await.unwrap() {
                if let Some(u) = l.strip_prefix("DevTools listening on ") {
                    return u.trim().to_string();
                }
            }
            panic!("chromium exited without a DevTools endpoint");
        })
        .await
        .expect("chromium starts within 20 s");
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let (ws, _) = tokio_tungstenite::connect_async(url.as_str()).await.unwrap();
        let mut b = Browser { ws, next_id: 0, session: String::new(), _child: child, _profile: profile };
        let target = b.call("Target.createTarget", json!({"url": "about:blank"})).await;
        let attached = b.call("Target.attachToTarget", json!({"targetId": target["targetId"], "flatten": true})).await;
        b.session = attached["sessionId"].as_str().unwrap().to_string();
        // Every page keeps a list of what its content security policy blocked, so that a test
        // sees a script the policy stopped (which the page's own text would not show).
        let record = "window.__blocked = []; document.addEventListener('securitypolicyviolation', (e) => \
            window.__blocked.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + e.sourceFile + ':' + e.lineNumber));";
        b.call("Page.enable", json!({})).await;
        b.call("Page.addScriptToEvaluateOnNewDocument", json!({"source": record})).await;
        b
    }

    /// Sends a command (to the page once attached) and waits for its answer, skipping events.
    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if !self.session.is_empty() {
            msg["sessionId"] = json!(self.session);
        }
        self.ws.send(Message::Text(msg.to_string().into())).await.unwrap();
        loop {
            let m = tokio::time::timeout(Duration::from_secs(30), self.ws.next()).await.unwrap().unwrap().unwrap();
            let Message::Text(t) = m else { continue };
            let v: Value = serde_json::from_str(&t).unwrap();
            if v["id"] == id {
                assert!(v.get("error").is_none(), "{method}: {v}");
                return v["result"].clone();
            }
        }
    }

    pub async fn set_cookie(&mut self, base: &str, name: &str, value: &str) {
        let r = self.call("Network.setCookie", json!({"name": name, "value": value, "url": base})).await;
        assert_eq!(r["success"], true, "{r}");
    }

    pub async fn goto(&mut self, url: &str) {
        self.call("Page.navigate", json!({"url": url})).await;
    }

    /// The value of a JavaScript expression in the page.
    pub async fn eval(&mut self, expression: &str) -> Value {
        let r = self.call("Runtime.evaluate", json!({"expression": expression, "returnByValue": true})).await;
        r["result"]["value"].clone()
    }

    /// The value a promise-returning expression resolves to.
    #[allow(dead_code)]
    pub async fn eval_async(&mut self, expression: &str) -> Value {
        let r = self
            .call("Runtime.evaluate", json!({"expression": expression, "returnByValue": true, "awaitPromise": true}))
            .await;
        assert!(r.get("exceptionDetails").is_none(), "{expression}: {r}");
        r["result"]["value"].clone()
    }

    /// A PNG of what the page shows.
    #[allow(dead_code)]
    pub async fn screenshot(&mut self) -> Vec<u8> {
        use base64::Engine;
        let r = self.call("Page.captureScreenshot", json!({"format": "png"})).await;
        base64::engine::general_purpose::STANDARD.decode(r["data"].as_str().unwrap()).unwrap()
    }

    /// Evaluates `expression` until it is true, or fails after `within`; fails too if the page
    /// broke its content security policy on the way.
    pub async fn wait_for(&mut self, expression: &str, within: Duration) {
        let until = Instant::now() + within;
        loop {
            if self.eval(expression).await == json!(true) {
                let blocked = self.eval("window.__blocked").await;
                assert_eq!(blocked, json!([]), "the page's content security policy blocked something");
                return;
            }
            if Instant::now() > until {
                let body = self.eval("document.body ? document.body.innerText : ''").await;
                let blocked = self.eval("window.__blocked").await;
                panic!(
                    "timed out waiting for `{expression}`; blocked by the page's policy: {blocked}; page text: {body}"
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
