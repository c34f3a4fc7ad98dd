//! What the process tests share.

use std::path::Path;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};

/// A `tessera serve` process on `dir`, listening on a free port, with `more` arguments; its
/// base URL once it printed it. Killed when dropped.
pub async fn serve(dir: &Path, more: &[&str]) -> (tokio::process::Child, String) {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(dir)
        .args(more)
        .env("TESSERA_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        // A pipe the test may write to (`--soc-follow -`), never the test runner's own input.
        .stdin(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let base = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(l) = lines.next_line().await.unwrap() {
            if let Some(rest) = l.trim().strip_prefix("Tessera is running on ") {
                return rest.split_whitespace().next().unwrap().to_string();
            }
        }
        panic!("tessera serve exited before printing its address");
    })
    .await
    .expect("tessera serve starts");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, base)
}
