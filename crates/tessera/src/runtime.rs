//! `tessera serve` and `tessera demo`: the command line's words (with the environment under
//! them) laid over the `--config` file, handed to `tessera_server`.

use crate::ServeArgs;
use tessera_server::config::Settings;

impl ServeArgs {
    pub fn config(&self, demo: bool) -> anyhow::Result<tessera_server::ServerConfig> {
        let given = Settings {
            listen: self.listen,
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone().map(Into::into),
            public_url: self.public_url.clone(),
            smtp_url: self.smtp_url.clone().map(Into::into),
            smtp_from: self.smtp_from.clone(),
            metrics_listen: self.metrics_listen,
            metrics_token_file: self.metrics_token_file.clone(),
            edge_per_address: self.edge_per_address,
            edge_per_network: self.edge_per_network,
            nats_url: self.nats_url.clone(),
            node_name: self.node_name.clone(),
            soc_allow: (!self.soc_allow.is_empty()).then(|| self.soc_allow.clone()),
            soc_follow: (!self.soc_follow.is_empty()).then(|| self.soc_follow.clone()),
            soc_rules: self.soc_rules.clone(),
            toc_model: self.toc_model.clone(),
            toc_node: self.toc_node.clone(),
            toc_webhooks: (!self.toc_webhooks.is_empty()).then(|| self.toc_webhooks.clone()),
            official_domains: (!self.official_domains.is_empty()).then(|| self.official_domains.clone()),
            certstream_url: self.certstream_url.clone(),
        };
        tessera_server::ServerConfig::load(self.config.as_deref(), given, demo)
    }
}

pub async fn serve(args: ServeArgs, demo: bool) -> anyhow::Result<()> {
    let server = tessera_server::Server::build(args.config(demo)?).await?;
    server.run(tessera_server::shutdown_signal()).await
}
