//! Fixture files.

use std::path::{Path, PathBuf};

/// Reads `<crate_dir>/tests/fixtures/<name>`; pass `env!("CARGO_MANIFEST_DIR")` as `crate_dir`.
pub fn read(crate_dir: &str, name: &str) -> Vec<u8> {
    let path: PathBuf = Path::new(crate_dir)
        .join("tests")
        .join("fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}
