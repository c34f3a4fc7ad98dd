//! `tessera serve` and `tessera demo`: the command line's words made into a node's
//! configuration, handed to `tessera_server`.

use crate::ServeArgs;

impl ServeArgs {
    pub fn config(&self, demo: bool) -> tessera_server::ServerConfig {
        tessera_server::ServerConfig {
            listen: self.listen,
            data_dir: self.store.data_dir.clone(),
            database_url: self.store.database_url.clone(),
            public_url: self.public_url.clone(),
            smtp_url: self.smtp_url.clone(),
            smtp_from: self.smtp_from.clone(),
            metrics_listen: self.metrics_listen,
            metrics_token_file: self.metrics_token_file.clone(),
            edge_per_address: self.edge_per_address,
            edge_per_network: self.edge_per_network,
            demo,
        }
    }
}

pub async fn serve(args: ServeArgs, demo: bool) -> anyhow::Result<()> {
    let server = tessera_server::Server::build(args.config(demo)).await?;
    server.run(tessera_server::shutdown_signal()).await
}
