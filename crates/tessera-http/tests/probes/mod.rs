//! The operations centre's synthetic checks against real servers: a fan's journey through this
//! shop over HTTP, and TLS certificates verified and timed against a local TLS server.
//!
//! The TLS fixtures are a test CA (`ca.pem`) and a certificate for `localhost` it signed
//! (`leaf.pem`, `leaf.key`), made with OpenSSL on 2026-12-06 and valid for ten years.

use super::*;
use tessera_app::toc::journey::{Expect, Journey};
use tessera_app::toc::probes::{run, Check, Target};

fn journey(t: &TestApp, expect: Expect, password: &str, phase: &str, category_id: i64) -> Check {
    let j = Journey {
        base_url: t.base.clone(),
        email: "fan1@example.org".into(),
        password: password.into(),
        phase: phase.into(),
        category_id,
        expect,
    };
    Check { component: "shop-journey".into(), target: Target::Journey(j) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_synthetic_fan_walks_the_shop_and_says_where_it_broke() {
    let t = TestApp::start().await;
    let fan = t.fan(1).await;
    let cat = t.sale(&[&fan]).await;
    let client = reqwest::Client::new();
    let password = "correct horse battery";

    // Declined: the whole path up to the provider, nothing sold.
    run(&client, &journey(&t, Expect::Declined, password, "P1", cat)).await.unwrap();
    assert_eq!(t.figures().await, (0, 0, 0), "a declined journey sells and holds nothing");
    // Ticket: paid, then listed with its ticket.
    run(&client, &journey(&t, Expect::Ticket, password, "P1", cat)).await.unwrap();
    assert_eq!(t.figures().await, (1, 1, 0), "one seat sold to the probe");

    // Each broken step names itself.
    let e = run(&client, &journey(&t, Expect::Declined, "wrong password", "P1", cat)).await.unwrap_err();
    assert!(e.starts_with("sign-in: answered 401"), "{e}");
    let e = run(&client, &journey(&t, Expect::Declined, password, "NOPE", cat)).await.unwrap_err();
    assert!(e.starts_with("phase: answered 404"), "{e}");
    // The shop switched read-only by the operations centre: the journey fails at the purchase.
    let a = t.app.create_account("toc@example.org", "operations centre key", "TOC", Role::Operator).await.unwrap();
    let op = tessera_app::auth::Principal::of_account(&a);
    t.app.toc_switch(&op, tessera_app::toc::Mode::ShopReadOnly, true, "rehearsal", None).await.unwrap();
    let e = run(&client, &journey(&t, Expect::Ticket, password, "P1", cat)).await.unwrap_err();
    assert!(e.starts_with("buy: answered 503 contingency_mode"), "{e}");
    assert_eq!(t.figures().await, (1, 1, 0), "nothing more sold");
}

/// A TLS server on a loopback port presenting the fixture certificate, for as long as the test.
async fn tls_server() -> String {
    use tokio_rustls::rustls::{self, pki_types::pem::PemObject, pki_types::CertificateDer, pki_types::PrivateKeyDer};
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/probes");
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(format!("{dir}/leaf.pem")).unwrap().map(Result::unwrap).collect();
    let key = PrivateKeyDer::from_pem_file(format!("{dir}/leaf.key")).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            // A failed handshake (the probe refusing the chain) is the probe's business.
            tokio::spawn(async move { drop(acceptor.accept(tcp).await) });
        }
    });
    address
}

fn tls(address: &str, server_name: &str, ca_file: Option<&str>, min_days: u32) -> Check {
    let target = Target::Tls {
        address: address.into(),
        server_name: Some(server_name.into()),
        ca_file: ca_file.map(str::to_string),
        min_days: Some(min_days),
    };
    Check { component: "shop-tls".into(), target }
}

#[tokio::test]
async fn tls_probes_verify_the_chain_and_warn_before_expiry() {
    let address = tls_server().await;
    let ca = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/probes/ca.pem");
    let client = reqwest::Client::new();
    // The chain verifies for its name, with years to go.
    run(&client, &tls(&address, "localhost", Some(ca), 14)).await.unwrap();
    // Asked for more validity than it has: "expires in N days", before it is an outage.
    let e = run(&client, &tls(&address, "localhost", Some(ca), 5000)).await.unwrap_err();
    assert!(e.contains("the certificate expires in") && e.contains("(at least 5000 wanted)"), "{e}");
    // Not signed by a root it trusts, or not for the name asked: the handshake fails.
    let e = run(&client, &tls(&address, "localhost", None, 14)).await.unwrap_err();
    assert!(e.contains("TLS: invalid peer certificate") && e.contains("UnknownIssuer"), "{e}");
    let e = run(&client, &tls(&address, "shop.example.org", Some(ca), 14)).await.unwrap_err();
    assert!(e.contains("TLS: invalid peer certificate: certificate not valid for name"), "{e}");
    // Nothing listening: a failure, not a hang.
    let e = run(&client, &tls("127.0.0.1:1", "localhost", Some(ca), 14)).await.unwrap_err();
    assert!(e.starts_with("127.0.0.1:1:"), "{e}");
}
