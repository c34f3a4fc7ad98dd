//! dnstwist's own candidates through the detector: every one must be flagged.
//!
//! Runs when `TESSERA_TEST_DNSTWIST` names a dnstwist executable (`pip install dnstwist`);
//! otherwise it says loudly that it was skipped. dnstwist runs twice per domain: with its
//! defaults, and with the word and TLD lists the crate embeds (`-d`, `--tld`), so that the
//! dictionary and TLD-swap fuzzers are covered too.

use std::collections::BTreeSet;
use std::io::Write;
use std::process::Command;

use tessera_lookalike::fuzz::{fuzz, tables, FuzzOptions};

use crate::{detector, OFFICIAL};

fn run(exe: &str, args: &[&str]) -> Vec<String> {
    let out = Command::new(exe).args(args).output().unwrap_or_else(|e| panic!("cannot run {exe}: {e}"));
    assert!(out.status.success(), "{exe} {args:?} failed: {out:?}");
    String::from_utf8(out.stdout)
        .expect("dnstwist prints UTF-8")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

fn list_file(items: &[&str]) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    for i in items {
        writeln!(f, "{i}").unwrap();
    }
    f.flush().unwrap();
    f
}

#[test]
fn every_dnstwist_candidate_is_flagged() {
    let Ok(exe) = std::env::var("TESSERA_TEST_DNSTWIST") else {
        // Written to stderr directly, not with `eprintln!`, which the test harness captures.
        let _ = std::io::stderr().write_all(
            format!(
                "\n!!! SKIPPED every_dnstwist_candidate_is_flagged: TESSERA_TEST_DNSTWIST is not \
                 set.\n!!! Set it to a dnstwist executable (pip install dnstwist) to run \
                 dnstwist's candidates for {OFFICIAL:?} through the detector.\n\n"
            )
            .as_bytes(),
        );
        return;
    };
    let dict = list_file(tables::DICTIONARY);
    let tlds = list_file(tables::TLDS);
    let (dict, tlds) = (dict.path().to_str().unwrap(), tlds.path().to_str().unwrap());
    let d = detector();
    for official in OFFICIAL {
        let mut names: BTreeSet<String> = run(&exe, &["--format", "list", official]).into_iter().collect();
        // dnstwist lists the original too; the official domain is never a hit.
        assert!(names.remove(official), "dnstwist did not list {official} itself");
        let defaults = names.len();
        names.extend(run(&exe, &["--format", "list", "-d", dict, "--tld", tlds, official]));
        names.remove(official);
        let missed: Vec<&String> = names.iter().filter(|n| d.check(n).is_none()).collect();
        let ours: BTreeSet<String> =
            fuzz(official, &FuzzOptions::default()).unwrap().into_iter().map(|c| c.ascii).collect();
        eprintln!(
            "dnstwist {official} (original excluded): {defaults} names with its defaults, {} \
             with its word and TLD lists too; {} flagged, {} missed; the generator makes {} \
             names, {} of dnstwist's are not among them, {} of ours are not among dnstwist's",
            names.len(),
            names.len() - missed.len(),
            missed.len(),
            ours.len(),
            names.difference(&ours).count(),
            ours.difference(&names).count(),
        );
        assert!(missed.is_empty(), "{official}: not flagged: {missed:?}");
    }
}
