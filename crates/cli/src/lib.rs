//! The `cartback` binary's library: configuration loading, the connector registry, and the
//! commands. Tests and the testkit use it to boot a real hub in-process.
//!
//! # Layout
//! - [`config`]: read the TOML file, layer `CARTBACK__...` overrides, interpolate `${VAR}`, validate
//!   every table and report every problem with its key path.
//! - [`registry`]: the list of connectors ([`registry::CONNECTORS`]), one line each: the only file
//!   that names every connector.
//! - [`app`]: builds the shared state from a validated config and runs the server.
//! - [`report`]: `cartback report --flow ID`: a flow's report as a terminal table.
//! - [`surveys`]: the `[survey.<id>]` tables and the checks of every `survey` that names one.
//! - [`import`]: `cartback import --source ID --since 30d`: the hub's import started (or resumed),
//!   followed with a progress bar, stopped on Ctrl-C, summed up.
//! - [`send_test`]: `cartback send-test --flow ID --to ADDRESS`: every step sent now through the
//!   running hub's test mode, each outcome printed.
//! - [`simulate`]: `cartback simulate --config NEW.toml`: the recorded events of a window through
//!   the new flows on a virtual clock, nothing sent, beside what was sent.
//! - [`commands`]: the commands (`serve`, `check-config`, `report`, `send-test`, `simulate`).

pub mod app;
pub mod commands;
pub mod config;
pub mod import;
pub mod registry;
pub mod report;
pub mod send_test;
pub mod simulate;
pub mod surveys;
