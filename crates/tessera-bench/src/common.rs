//! What the benchmarks share: percentiles, bounded concurrency, and setup written straight
//! to the store (drawn buyers, signed-in sessions), and limits that measure the server rather
//! than its edge.

use anyhow::Context;
use std::sync::Arc;
use std::time::Duration;
use tessera_app::App;
use tessera_domain::catalogue::{Catalogue, PriceCategory, Session, Venue};
use tessera_domain::{Cents, Code, Email, Timestamp};
use tessera_store::{NewAccount, PhaseSettings, Role};

/// A figure of this process's memory from the kernel, MiB: `VmRSS:` now, `VmHWM:` at peak.
pub(crate) fn memory_mib(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// The store a benchmark measures: a fresh schema on PostgreSQL when `database_url` is given,
/// else a SQLite file at `sqlite_file` with full durability.
pub(crate) async fn bench_store(
    database_url: Option<&str>,
    sqlite_file: &std::path::Path,
) -> anyhow::Result<Arc<dyn tessera_store::Store>> {
    Ok(match database_url {
        Some(url) => {
            let schema = format!("bench_{}", tessera_app::random_hex(6));
            Arc::new(tessera_store_postgres::PgStore::connect_with_schema(url, &schema).await.context("PostgreSQL")?)
        }
        None => Arc::new(tessera_store_sqlite::SqliteStore::open(sqlite_file, tessera_store_sqlite::Durability::Full)?),
    })
}

pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub(crate) fn pct(v: &[Duration], p: f64) -> Duration {
    if v.is_empty() {
        return Duration::ZERO;
    }
    let mut s = v.to_vec();
    s.sort();
    s[((s.len() as f64 - 1.0) * p).round() as usize]
}

/// Runs `f` for every item with at most `width` in flight.
pub(crate) async fn for_each_concurrent<T: Send + 'static, R: Send + 'static, F, Fut>(
    items: Vec<T>,
    width: usize,
    f: F,
) -> anyhow::Result<Vec<R>>
where
    F: Fn(T) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<R>> + Send + 'static,
{
    let f = Arc::new(f);
    let mut results: Vec<Option<R>> = std::iter::repeat_with(|| None).take(items.len()).collect();
    let mut set = tokio::task::JoinSet::new();
    let mut iter = items.into_iter().enumerate();
    loop {
        while set.len() < width {
            let Some((i, item)) = iter.next() else { break };
            let f = f.clone();
            set.spawn(async move { (i, f(item).await) });
        }
        let Some(done) = set.join_next().await else {
            break;
        };
        let (i, r) = done?;
        results[i] = Some(r?);
    }
    Ok(results.into_iter().map(|r| r.expect("every item ran")).collect())
}

/// A hot session of `quota` seats and `buyers` accounts, each drawn in phase `BENCH` with its
/// purchase slot open now. Setup for benchmarks, written straight to the store.
pub(crate) async fn drawn_buyers(
    app: &App,
    quota: i64,
    buyers: usize,
) -> anyhow::Result<(tessera_domain::CategoryId, Vec<tessera_store::Account>)> {
    let store = app.store.clone();
    app.import_catalogue(&hot_catalogue(quota)).await?;
    let category = store.session("ATH01").await?.context("hot session")?.categories[0].id;
    // A fixed hash: setting up thousands of accounts must not take thousands of Argon2 runs,
    // and nobody signs in with a password during a benchmark.
    let hash = "$argon2id$v=19$m=19456,t=2,p=1$YmVuY2hzYWx0$3sM7Bw8P2Lq0Yx1qv2QfVJrJ1mQhWw7wq6p0kzq3y6M".to_string();
    let now = app.now();
    let st = store.clone();
    let accounts = for_each_concurrent((0..buyers).collect(), 256, move |i| {
        let (st, hash) = (st.clone(), hash.clone());
        async move {
            Ok(st
                .create_account(&NewAccount {
                    email: Email::parse(&format!("buyer{i}@bench.tessera.invalid")).map_err(anyhow::Error::msg)?,
                    password_hash: hash,
                    display_name: format!("Buyer {i}"),
                    role: Role::Fan,
                    now,
                })
                .await?)
        }
    })
    .await?;
    let phase = app.create_phase("BENCH", "Benchmark phase", &PhaseSettings::default()).await?;
    app.open_registration("BENCH").await?;
    let st = store.clone();
    let ids: Vec<_> = accounts.iter().map(|x| x.id).collect();
    for_each_concurrent(ids.into_iter().enumerate().collect(), 256, move |(i, id)| {
        let st = st.clone();
        async move {
            let mut r = [0u8; 6];
            r[..4].copy_from_slice(&(i as u32).to_be_bytes());
            st.enter_lottery(phase.id, id, &tessera_domain::lottery::entry_code(r), now).await?;
            Ok(())
        }
    })
    .await?;
    app.close_registration("BENCH").await?;
    app.draw("BENCH", Some(now.plus_secs(-60))).await?;
    Ok((category, accounts))
}

/// A sign-in token per account.
pub(crate) async fn sessions_for(app: &App, accounts: Vec<tessera_store::Account>) -> anyhow::Result<Vec<String>> {
    let app = app.clone();
    for_each_concurrent(accounts, 256, move |acc| {
        let app = app.clone();
        async move { Ok(app.issue_session(acc).await?.token) }
    })
    .await
}

/// Edge limits that never bite: a benchmark's clients share one loopback address, which
/// stands in for thousands of fans. The edge still does all its work per request.
pub(crate) fn unlimited_edge() -> tessera_app::airlock::EdgeLimits {
    use tessera_airlock::gcra::Quota;
    let q = Quota { per_second: 1e9, burst: 1_000_000 };
    tessera_app::airlock::EdgeLimits { per_address: q, per_network: q, throttled: q, per_gate: q }
}

pub(crate) fn bench_serve_limits() -> tessera_http::serve::ServeLimits {
    tessera_http::serve::ServeLimits {
        max_connections_per_address: 100_000,
        max_connections: 100_000,
        ..Default::default()
    }
}

pub(crate) fn hot_catalogue(quota: i64) -> Catalogue {
    let code = |s: &str| Code::parse(s).expect("static code");
    let start = Timestamp::now().plus_secs(30 * 86_400);
    Catalogue {
        venues: vec![Venue {
            code: code("STF"),
            name: "Stade de France".into(),
            city: "Saint-Denis".into(),
            capacity: quota.max(80_000),
            zones: vec!["Gate A".into()],
        }],
        sessions: vec![Session {
            code: code("ATH01"),
            sport: "Athletics".into(),
            title: "Men's 100 m final".into(),
            venue: code("STF"),
            starts_at: start,
            ends_at: start.plus_secs(3 * 3600),
            ceremony: false,
        }],
        categories: vec![PriceCategory {
            session: code("ATH01"),
            code: code("CAT-A"),
            name: "Category A".into(),
            price: Cents(98_000),
            quota,
        }],
    }
}

/// Starts `cmd` (a `tessera serve`, printing its address on standard output) and waits a
/// minute at most for "Tessera is running on <base>"; returns the child (killed on drop) and
/// the base URL. The rest of its output is drained so that it never blocks on a full pipe.
pub(crate) async fn start_server(mut cmd: tokio::process::Command) -> anyhow::Result<(tokio::process::Child, String)> {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let mut child =
        cmd.stdout(std::process::Stdio::piped()).kill_on_drop(true).spawn().context("starting tessera serve")?;
    let mut lines = BufReader::new(child.stdout.take().context("stdout")?).lines();
    let base = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(l) = lines.next_line().await? {
            if let Some(rest) = l.trim().strip_prefix("Tessera is running on ") {
                return Ok(rest.split_whitespace().next().unwrap_or_default().to_string());
            }
        }
        anyhow::bail!("tessera serve exited before printing its address")
    })
    .await
    .context("the server did not start in a minute")??;
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok((child, base))
}
