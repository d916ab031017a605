//! A PostgreSQL server for a benchmark run (`scripts/pg-cluster.sh`), and pgbench.

use super::process::succeed;
use std::path::PathBuf;
use std::process::Command;

/// A PostgreSQL server for the run: the one named, or a throw-away cluster.
pub struct Cluster {
    pub url: String,
    bin: PathBuf,
    data: Option<String>,
}

impl Cluster {
    pub fn start() -> Cluster {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/pg-cluster.sh");
        if let Ok(url) = std::env::var("MYPAY_TEST_POSTGRES") {
            let bin = std::env::var("MYPAY_TEST_PGBIN")
                .unwrap_or_else(|_| "/usr/lib/postgresql/15/bin".into());
            return Cluster {
                url,
                bin: bin.into(),
                data: None,
            };
        }
        let text = succeed(
            Command::new("bash").arg(&script).arg("start"),
            "starting a cluster",
        );
        let value = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("export {name}=")))
                .expect("the script's exports")
                .to_owned()
        };
        Cluster {
            url: value("MYPAY_TEST_POSTGRES"),
            bin: value("MYPAY_TEST_PGBIN").into(),
            data: Some(value("MYPAY_TEST_PGDATA")),
        }
    }

    pub fn psql(&self, db: &str, sql: &str) {
        succeed(
            Command::new("psql")
                .arg(format!("{}/{db}", self.url))
                .args(["-q", "-v", "ON_ERROR_STOP=1", "-c", sql]),
            sql,
        );
    }

    /// Start the next measurement from a quiet server: the WAL written so far
    /// checkpointed, so no measurement pays for the one before it. Skipped (with a
    /// line saying so) on a server where the user may not checkpoint.
    pub fn checkpoint(&self) {
        let out = Command::new("psql")
            .arg(format!("{}/postgres", self.url))
            .args(["-q", "-c", "CHECKPOINT"])
            .output()
            .expect("psql");
        if !out.status.success() {
            println!(
                "(no CHECKPOINT between measurements: {})",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
    }

    pub fn database(&self, name: &str) -> String {
        self.psql("postgres", &format!("DROP DATABASE IF EXISTS {name}"));
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        format!("{}/{name}", self.url)
    }

    /// pgbench's transactions per second for one insert per transaction.
    pub fn pgbench(&self, clients: usize, seconds: u64) -> f64 {
        let db = "pgbench_inserts";
        self.database(db);
        self.psql(
            db,
            "CREATE TABLE t (id BIGSERIAL PRIMARY KEY, v TEXT NOT NULL)",
        );
        let script = std::env::temp_dir().join(format!("mypay-pgbench-{}.sql", std::process::id()));
        std::fs::write(
            &script,
            "INSERT INTO t (v) VALUES ('an order of about this size');\n",
        )
        .expect("script");
        self.checkpoint();
        let out = Command::new(self.bin.join("pgbench"))
            .args(["-n", "-M", "prepared", "-f"])
            .arg(&script)
            .args([
                "-c",
                &clients.to_string(),
                "-j",
                "2",
                "-T",
                &seconds.to_string(),
            ])
            .arg(format!("{}/{db}", self.url))
            .output()
            .expect("pgbench");
        // Its table's clean-up (autovacuum after the inserts) would otherwise run during
        // the next measurement.
        self.psql("postgres", &format!("DROP DATABASE {db}"));
        let text = String::from_utf8_lossy(&out.stdout);
        text.lines()
            .find_map(|l| l.strip_prefix("tps = "))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("pgbench: {text}{}", String::from_utf8_lossy(&out.stderr)))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(data) = &self.data {
            let script =
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/pg-cluster.sh");
            let _ = Command::new("bash")
                .arg(script)
                .args(["stop", data])
                .status();
        }
    }
}
