//! One typed configuration for a node: the defaults, then a TOML file (`--config`), then the
//! environment, then the command line, each overriding the one before.
//!
//! The binary's command line (clap) already merges the environment under its flags, so it
//! hands over one [`Settings`] of what was given there; [`ServerConfig::load`] lays it over the
//! file and the file over the defaults. Secrets (a database URL with its password, an SMTP URL
//! with its credentials) are `SecretString`s: their `Debug` prints `[REDACTED]`, so no log line
//! or error carries them.

use crate::ServerConfig;
use anyhow::Context;
use secrecy::SecretString;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Every setting a node takes, each optional: what one layer (file, or environment and command
/// line) gives. The file's keys are these fields' names; an unknown key is refused, so that a
/// misspelt setting is not silently ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<SecretString>,
    pub public_url: Option<String>,
    pub smtp_url: Option<SecretString>,
    pub smtp_from: Option<String>,
    pub metrics_listen: Option<SocketAddr>,
    pub metrics_token_file: Option<PathBuf>,
    pub edge_per_address: Option<f64>,
    pub edge_per_network: Option<f64>,
    pub nats_url: Option<String>,
    pub node_name: Option<String>,
    /// Networks the security engine never decides against (the gates', partners').
    pub soc_allow: Option<Vec<ipnet::IpNet>>,
    /// Logs the security engine follows as they grow (combined access logs, JSON events).
    pub soc_follow: Option<Vec<PathBuf>>,
    /// The security engine's rule file (default: the built-in pack).
    pub soc_rules: Option<PathBuf>,
    /// What the operations centre watches (YAML, `tessera_ops::model`; default: the demo's).
    pub toc_model: Option<PathBuf>,
    /// This node's component in that model (default: `node_name` if the model names it,
    /// else `tessera-node-1`).
    pub toc_node: Option<String>,
    /// URLs every operations-centre notification is posted to (JSON).
    pub toc_webhooks: Option<Vec<String>>,
    /// The event's official domains: the SOC watches for their lookalikes.
    pub official_domains: Option<Vec<String>>,
    /// A certificate-transparency stream (certstream's WebSocket) followed live.
    pub certstream_url: Option<String>,
}

impl Settings {
    /// Reads a TOML file of settings; says which file and which line when it cannot.
    pub fn from_file(path: &Path) -> anyhow::Result<Settings> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading the configuration {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("the configuration {} is not valid", path.display()))
    }

    /// `self` where it says something, `under` elsewhere.
    fn over(self, under: Settings) -> Settings {
        Settings {
            listen: self.listen.or(under.listen),
            data_dir: self.data_dir.or(under.data_dir),
            database_url: self.database_url.or(under.database_url),
            public_url: self.public_url.or(under.public_url),
            smtp_url: self.smtp_url.or(under.smtp_url),
            smtp_from: self.smtp_from.or(under.smtp_from),
            metrics_listen: self.metrics_listen.or(under.metrics_listen),
            metrics_token_file: self.metrics_token_file.or(under.metrics_token_file),
            edge_per_address: self.edge_per_address.or(under.edge_per_address),
            edge_per_network: self.edge_per_network.or(under.edge_per_network),
            nats_url: self.nats_url.or(under.nats_url),
            node_name: self.node_name.or(under.node_name),
            soc_allow: self.soc_allow.or(under.soc_allow),
            soc_follow: self.soc_follow.or(under.soc_follow),
            soc_rules: self.soc_rules.or(under.soc_rules),
            toc_model: self.toc_model.or(under.toc_model),
            toc_node: self.toc_node.or(under.toc_node),
            toc_webhooks: self.toc_webhooks.or(under.toc_webhooks),
            official_domains: self.official_domains.or(under.official_domains),
            certstream_url: self.certstream_url.or(under.certstream_url),
        }
    }
}

impl ServerConfig {
    /// The defaults, under the file (if any), under `given` (environment and command line).
    pub fn load(file: Option<&Path>, given: Settings, demo: bool) -> anyhow::Result<ServerConfig> {
        let from_file = match file {
            Some(path) => Settings::from_file(path)?,
            None => Settings::default(),
        };
        let s = given.over(from_file);
        let defaults = ServerConfig::new("127.0.0.1:8080".parse().expect("static"), "tessera-data");
        let rate = |name: &str, v: Option<f64>, default: f64| -> anyhow::Result<f64> {
            match v {
                None => Ok(default),
                Some(r) if r.is_finite() && r > 0.0 && r <= 1e7 => Ok(r),
                Some(r) => {
                    anyhow::bail!("{name} = {r} is not a rate: give requests a second, above 0 and at most 10,000,000")
                }
            }
        };
        Ok(ServerConfig {
            listen: s.listen.unwrap_or(defaults.listen),
            data_dir: s.data_dir.unwrap_or(defaults.data_dir),
            database_url: s.database_url,
            public_url: s.public_url,
            smtp_url: s.smtp_url,
            smtp_from: s.smtp_from.unwrap_or(defaults.smtp_from),
            metrics_listen: s.metrics_listen,
            metrics_token_file: s.metrics_token_file,
            edge_per_address: rate("edge_per_address", s.edge_per_address, defaults.edge_per_address)?,
            edge_per_network: rate("edge_per_network", s.edge_per_network, defaults.edge_per_network)?,
            nats_url: s.nats_url,
            node_name: s.node_name,
            soc_allow: s.soc_allow.unwrap_or_default(),
            soc_follow: s.soc_follow.unwrap_or_default(),
            soc_rules: s.soc_rules,
            toc_model: s.toc_model,
            toc_node: s.toc_node,
            toc_webhooks: s.toc_webhooks.unwrap_or_default(),
            official_domains: s.official_domains.unwrap_or_default(),
            certstream_url: s.certstream_url,
            demo,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    const EXAMPLE: &str = include_str!("../../../tessera.example.toml");

    /// The example in the repository is a valid configuration that names every setting, so it
    /// cannot fall behind the code unnoticed.
    #[test]
    fn the_example_file_names_every_setting_and_parses() {
        let s: Settings = toml::from_str(EXAMPLE).expect("the example parses");
        let text = format!("{s:?}");
        assert!(!text.contains("None"), "every setting appears in tessera.example.toml: {text}");
        assert!(!text.contains("hunter2"), "secrets are redacted in Debug: {text}");
    }

    #[test]
    fn layers_override_in_order_and_bad_files_say_where() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tessera.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:9000\"\ndata_dir = \"from-file\"\nedge_per_address = 50.0\n")
            .unwrap();
        let given = Settings { data_dir: Some("from-flag".into()), ..Settings::default() };
        let c = ServerConfig::load(Some(&path), given, false).unwrap();
        assert_eq!(c.listen, "127.0.0.1:9000".parse().unwrap(), "the file over the default");
        assert_eq!(c.data_dir, PathBuf::from("from-flag"), "the flag over the file");
        assert_eq!(c.edge_per_address, 50.0);
        assert_eq!(c.edge_per_network, 1000.0, "the default where nobody said");

        std::fs::write(&path, "listen = \"127.0.0.1:9000\"\nlisten_port = 3\n").unwrap();
        let e = format!("{:#}", ServerConfig::load(Some(&path), Settings::default(), false).unwrap_err());
        assert!(e.contains("tessera.toml") && e.contains("listen_port"), "{e}");
        std::fs::write(&path, "edge_per_address = -1.0\n").unwrap();
        let e = format!("{:#}", ServerConfig::load(Some(&path), Settings::default(), false).unwrap_err());
        assert!(e.contains("edge_per_address"), "{e}");

        std::fs::write(&path, "database_url = \"postgres://u:hunter2@db/tessera\"\n").unwrap();
        let c = ServerConfig::load(Some(&path), Settings::default(), false).unwrap();
        assert!(!format!("{c:?}").contains("hunter2"), "a configuration prints without its secrets");
        assert_eq!(c.database_url.unwrap().expose_secret(), "postgres://u:hunter2@db/tessera");
    }
}
