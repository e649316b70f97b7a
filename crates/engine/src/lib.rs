//! cartback-engine: deciding that a cart is abandoned and running the flows that win it back.
//!
//! # Layout
//! - [`accept`]: the one way in: every front door (webhooks, the hub's tracking and on-site
//!   events, pollers) hands translated events to [`Engine::accept`]; checks, link scrubbing and the
//!   store's commit happen there.
//! - [`rules`]: the rules ingest applies (when a cart may be abandoned, the debounce, which cart an
//!   order converts), plain functions the store is given once when it opens.
//! - [`front`]: the [`Engine`] and [`Channel`] (a sink with its outbox settings); its stages, each
//!   a decision made from what the store holds, with no database (`decide_enrolment`,
//!   `decide_step` / `advance`, `classify`, `credit`; unit-tested beside it), and the thin async
//!   shell (`impl Engine`) that reads the store and commits: `enrol` (timers, abandonment checks),
//!   `step` (a run's next step; who is reachable), `compose` (the message), `deliver` (the outbox,
//!   backoff), `attribute` (orders to runs, reports), `workers`, `test_mode`. `fixtures` (tests
//!   only): flows, channels, carts for those unit tests.
//! - `trigger`: flows no cart abandonment starts (`tag:<name>`, `event:<name>`): the `trigger`
//!   timer enrols the cart the trigger concerns.
//! - [`live`]: what changes while the hub runs: flows, templates and caps swapped by a reload
//!   (a removed flow retired, its runs finishing), and paused flows (kept in the store).
//! - [`flows`]: flows compiled from their tables (steps, variants, quiet hours, caps).
//! - [`assign`]: holdout and variant assignment (stable hashes of flow and contact).
//! - [`quiet`]: quiet hours in the shopper's time zone.
//! - [`rate`]: a channel's `rate` for the whole deployment: this process's pacing, then tokens
//!   taken in blocks from the bucket all instances share in the store.
//! - [`template`]: minijinja templates, their start-up checks, money formatting.
//! - [`links`]: tracked links: every URL of a message becomes a signed hub link; targets stored by
//!   index; URLs off the shop's `link_hosts` are removed.
//! - [`import`]: import jobs (`cartback import`, the backfill): a source's history read page by
//!   page through its `Importer`, each page committed with its resume cursor (`import:<id>`);
//!   stop, resume, counts, one job per source.
//! - [`poll`]: the worker that reads polled sources (platform APIs) and hands their events and
//!   cursor to [`Engine::accept_polled`].
//! - [`progress`]: how a run stands for the runs API: steps taken, the last and the next, each
//!   numbered from 1 and named (`flows::StepRef`, the one place indexes become numbers).
//! - [`retention`]: the worker that ages out what `[retention]` says not to keep, in small batches.
//! - [`simulate`]: `cartback simulate`: the log of a period applied again through other flows on
//!   a virtual clock, every sink a `DrySink` that sends nothing; [`forecast`]: what it would have
//!   sent beside what was sent, and the conversions to expect at the measured rates.
//! - [`report`]: flow reports: funnel per step, channel and variant; treated vs holdout with a z-test.
//! - [`conditions`]: what starts a flow (`Trigger`) and what a step checks (`Condition`), parsed
//!   from their text forms.
//! - [`survey`]: "why they left": the `[survey.*]` tables, the survey a message asks, recording an
//!   answer (once per cart, its value band), masking; [`survey_report`]: reasons in the report.
//! - [`config`]: the `[flow.*]`, `[template.*]` and `[limits]` tables and their pure validation,
//!   so `cartback check-config` can report every problem before anything starts.

pub mod accept;
pub mod assign;
mod attribute;
mod compose;
pub mod conditions;
pub mod config;
mod deliver;
mod enrol;
#[cfg(test)]
mod fixtures;
pub mod flows;
pub mod forecast;
pub mod front;
pub mod import;
pub mod links;
pub mod live;
pub mod poll;
pub mod progress;
pub mod quiet;
pub mod rate;
pub mod report;
pub mod retention;
pub mod rules;
pub mod simulate;
mod step;
pub mod survey;
pub mod survey_report;
pub mod template;
mod test_mode;
mod trigger;
mod workers;

pub use accept::{AcceptError, Accepted, Arrival};
pub use front::{backoff, AddressKind, Channel, Engine, TestError, TestReport};
pub use step::{reachable, unreachable};
