//! `--store postgres://…`: a schema of its own for the run (dropped at the end), and the
//! database's own pace as the baseline: `pgbench` running a three-insert transaction (about the
//! rows one webhook writes) with 32 clients, on the same database, in the same run.

use anyhow::Context;
use std::process::Command;

/// A schema made for one run; dropped when this is dropped.
pub struct Schema {
    base: String,
    name: String,
}

fn psql(base: &str, sql: &str) -> anyhow::Result<()> {
    let out = Command::new("psql")
        .args([base, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
        .output()
        .context("run psql (Debian's postgresql-client)")?;
    anyhow::ensure!(
        out.status.success(),
        "psql: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(())
}

impl Schema {
    pub fn create(base: &str) -> anyhow::Result<Schema> {
        let name = format!("bench_{}_{}", std::process::id(), rand_suffix());
        psql(base, &format!("CREATE SCHEMA {name}"))?;
        Ok(Schema {
            base: base.to_string(),
            name,
        })
    }

    /// The URL the hub opens: the base with this schema first on the search path.
    pub fn url(&self) -> String {
        let sep = if self.base.contains('?') { '&' } else { '?' };
        format!("{}{sep}options=-c%20search_path%3D{}", self.base, self.name)
    }

    /// `pgbench` for `secs` seconds with `clients` clients, each transaction three inserts of
    /// about a webhook's size into three tables: transactions per second.
    pub fn pgbench(&self, clients: usize, secs: u64) -> anyhow::Result<f64> {
        let n = &self.name;
        let mut setup = String::new();
        for t in ["a", "b", "c"] {
            setup.push_str(&format!(
                "CREATE TABLE {n}.pgb_{t} (id BIGSERIAL PRIMARY KEY, k TEXT NOT NULL, v TEXT NOT NULL, at BIGINT NOT NULL);"
            ));
        }
        psql(&self.base, &setup)?;
        let dir = tempfile::tempdir()?;
        let script = dir.path().join("three_inserts.sql");
        let payload = "x".repeat(700);
        let mut s = String::from("\\set k random(1, 1000000000)\nBEGIN;\n");
        for t in ["a", "b", "c"] {
            s.push_str(&format!(
                "INSERT INTO {n}.pgb_{t} (k, v, at) VALUES (:k, '{payload}', :k);\n"
            ));
        }
        s.push_str("END;\n");
        std::fs::write(&script, s)?;
        let out = Command::new("pgbench")
            .args([
                "-n",
                "-c",
                &clients.to_string(),
                "-j",
                "2",
                "-T",
                &secs.to_string(),
                "-f",
            ])
            .arg(&script)
            .arg(&self.base)
            .output()
            .context("run pgbench (Debian's postgresql-contrib or postgresql-client)")?;
        let text = String::from_utf8_lossy(&out.stdout);
        anyhow::ensure!(
            out.status.success(),
            "pgbench: {}{}",
            text.trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
        text.lines()
            .find_map(|l| {
                let rest = l.trim().strip_prefix("tps = ")?;
                rest.split_whitespace().next()?.parse::<f64>().ok()
            })
            .with_context(|| format!("no tps in pgbench's output:\n{text}"))
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let _ = psql(&self.base, &format!("DROP SCHEMA {} CASCADE", self.name));
    }
}

fn rand_suffix() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0),
    );
    h.finish() as u32
}
