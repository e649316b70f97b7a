//! The binary run outside the repository finds a configuration without `--config`, and says
//! which one it used (the search order and the not-found message are unit-tested in
//! `commands.rs`).
#![allow(clippy::unwrap_used)]

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_cartback");

fn check_config(cwd: &std::path::Path, home: &std::path::Path) -> std::process::Output {
    Command::new(BIN)
        .arg("check-config")
        .current_dir(cwd)
        .env_remove("CARTBACK_CONFIG")
        .env_remove("XDG_CONFIG_HOME")
        .env("HOME", home)
        .env("CARTBACK_ADMIN_TOKEN", "dev-admin-token-local")
        .env("SHOPIFY_WEBHOOK_SECRET", "dev-shopify-secret")
        .output()
        .unwrap()
}

#[test]
fn outside_the_repository_the_default_config_is_found() {
    let cwd = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    // Nothing in the current folder or the user's: the repository this binary was built from.
    let out = check_config(cwd.path(), home.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let repo_config = std::fs::canonicalize(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../config/cartback.toml"
    ))
    .unwrap();
    let used = stdout.split(": OK").next().unwrap();
    assert_eq!(
        std::fs::canonicalize(used).unwrap(),
        repo_config,
        "{stdout}"
    );

    // The user's own configuration comes before it.
    let user = home.path().join(".config/cartback");
    std::fs::create_dir_all(&user).unwrap();
    std::fs::write(
        user.join("cartback.toml"),
        "[channel.console]\ntype = \"console\"\n",
    )
    .unwrap();
    let out = check_config(cwd.path(), home.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.starts_with(&format!(
            "{}: OK (0 sources, 1 channel",
            user.join("cartback.toml").display()
        )),
        "{stdout}"
    );

    // And one in the current folder before that.
    std::fs::write(
        cwd.path().join("cartback.toml"),
        "[channel.a]\ntype = \"console\"\n[channel.b]\ntype = \"console\"\n",
    )
    .unwrap();
    let out = check_config(cwd.path(), home.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("cartback.toml: OK (0 sources, 2 channels"),
        "{stdout}"
    );

    // A file named outright that does not exist is named in the error.
    let out = Command::new(BIN)
        .args(["check-config", "--config", "nowhere.toml"])
        .current_dir(cwd.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot read nowhere.toml"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
