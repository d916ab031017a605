//! The database a run uses: a fresh SQLite file, or a fresh database on PostgreSQL (the
//! server MYPAY_TEST_POSTGRES names, else a throw-away cluster of scripts/pg-cluster.sh,
//! stopped and removed when the run ends).

use crate::gateway::workspace;
use anyhow::{Context, bail};
use sqlx::AnyPool;
use std::path::{Path, PathBuf};

pub struct Database {
    /// What the gateway is given (`--database`).
    pub url: String,
    /// What the checker connects to.
    check_url: String,
    pub sqlite: bool,
    server: Option<String>,
    /// The database's name on PostgreSQL.
    pub name: String,
    /// Held for its drop: the throw-away cluster is stopped with the run.
    _cluster: Option<Cluster>,
}

impl Database {
    /// A fresh database on a throw-away cluster of its own (whatever MYPAY_TEST_POSTGRES
    /// names), for runs that stop the server.
    pub async fn fresh_on_own_cluster(name: &str) -> anyhow::Result<Database> {
        sqlx::any::install_default_drivers();
        let cluster = Cluster::start()?;
        Database::on_server(cluster.url.clone(), Some(cluster), name).await
    }

    /// The cluster this run started, if it did.
    pub fn cluster(&self) -> Option<&Cluster> {
        self._cluster.as_ref()
    }

    pub async fn fresh(backend: &str, dir: &Path, name: &str) -> anyhow::Result<Database> {
        sqlx::any::install_default_drivers();
        if backend == "sqlite" {
            let path = dir.join("mypay.sqlite");
            return Ok(Database {
                url: path.display().to_string(),
                check_url: format!("sqlite://{}", path.display()),
                sqlite: true,
                server: None,
                name: name.to_owned(),
                _cluster: None,
            });
        }
        let (server, cluster) = match std::env::var("MYPAY_TEST_POSTGRES") {
            Ok(url) if !url.is_empty() => (url, None),
            _ => {
                let cluster = Cluster::start()?;
                (cluster.url.clone(), Some(cluster))
            }
        };
        Database::on_server(server, cluster, name).await
    }

    async fn on_server(
        server: String,
        cluster: Option<Cluster>,
        name: &str,
    ) -> anyhow::Result<Database> {
        let admin = AnyPool::connect(&format!("{server}/postgres")).await?;
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
            .execute(&admin)
            .await?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin)
            .await?;
        admin.close().await;
        Ok(Database {
            url: format!("{server}/{name}"),
            check_url: format!("{server}/{name}"),
            sqlite: false,
            server: Some(server),
            name: name.to_owned(),
            _cluster: cluster,
        })
    }

    /// A pool for the checker's reads (the gateway must have made the schema first).
    pub async fn pool(&self) -> anyhow::Result<AnyPool> {
        Ok(sqlx::pool::PoolOptions::new()
            .max_connections(2)
            .connect(&self.check_url)
            .await?)
    }

    /// Drop the run's PostgreSQL database (a passing run leaves nothing behind).
    pub async fn drop_after(&self) {
        if let Some(server) = &self.server
            && let Ok(admin) = AnyPool::connect(&format!("{server}/postgres")).await
        {
            let _ = sqlx::query(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&admin)
            .await;
            admin.close().await;
        }
    }
}

/// A throw-away PostgreSQL cluster (scripts/pg-cluster.sh), stopped and removed on drop.
pub struct Cluster {
    pub url: String,
    pub data: PathBuf,
}

impl Cluster {
    pub fn start() -> anyhow::Result<Cluster> {
        let script = workspace().join("scripts/pg-cluster.sh");
        let out = std::process::Command::new(&script)
            .arg("start")
            .output()
            .with_context(|| format!("running {}", script.display()))?;
        if !out.status.success() {
            bail!(
                "pg-cluster.sh start: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let exports = String::from_utf8_lossy(&out.stdout);
        let value = |name: &str| {
            exports
                .lines()
                .find_map(|l| l.strip_prefix(&format!("export {name}=")))
                .map(str::to_owned)
        };
        Ok(Cluster {
            url: value("MYPAY_TEST_POSTGRES").context("the cluster's URL")?,
            data: PathBuf::from(value("MYPAY_TEST_PGDATA").context("the cluster's folder")?),
        })
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = std::process::Command::new(workspace().join("scripts/pg-cluster.sh"))
            .arg("stop")
            .arg(&self.data)
            .status();
    }
}
