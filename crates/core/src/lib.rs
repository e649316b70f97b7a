//! cartback-core: the normalized model every other crate speaks, and the two traits connectors
//! implement. No I/O lives here.
//!
//! # Layout
//! - [`check`]: [`check_events`], what every translated event must pass (no negative prices, no
//!   over-long addresses, no control characters in names).
//! - [`money`]: [`Money`] in integer minor units with its ISO 4217 [`Currency`]; exact decimal parsing.
//! - [`contact`]: [`ContactInfo`], per-channel [`Consent`], email and E.164 phone normalization.
//! - [`cart`]: [`CartSnapshot`] as a source reports it, [`Cart`] as the hub keeps it, [`LineItem`].
//! - [`change`]: [`CartChange`], one product added or removed (carts built from shopping events),
//!   and [`change::fold`], the lines a cart's history comes to in the order of its events' times.
//! - [`order`]: [`Order`], the purchase that converts a cart.
//! - [`event`]: [`Event`] and [`EventKind`], the normalized events sources emit.
//! - [`source`]: the [`Source`] trait (webhooks) and the [`Poller`] trait (platform APIs read on a schedule), [`InboundRequest`], the [`Verified`] wrapper that makes
//!   "translate before verify" impossible, and the verify/translate errors.
//! - [`import`]: the [`Importer`] trait (a platform's history read once, page by page: the
//!   backfill) and its [`ImportPage`].
//! - [`links`]: [`LinkPolicy`], the hosts a link the hub redirects to or renders may point to.
//! - [`problem`]: [`Problem`], one configuration problem at its key path (one type for every part).
//! - [`sink`]: the [`Sink`] trait, [`OutboundMessage`] and [`DeliveryError`] (retryable, permanent, unknown).
//! - [`clock`]: the [`Clock`] every time-dependent part reads; [`ManualClock`] for tests.
//! - [`duration`]: human durations (`"30m"`, `"6h"`, `"7d"`) for configuration.

pub mod cart;
pub mod change;
pub mod check;
pub mod clock;
pub mod contact;
pub mod duration;
pub mod event;
pub mod import;
pub mod links;
pub mod money;
pub mod order;
pub mod problem;
pub mod sink;
pub mod source;

pub use cart::{Cart, CartSnapshot, CartStatus, LineItem};
pub use change::{CartChange, CartStep, LineOp};
pub use check::check_events;
pub use clock::{Clock, ManualClock, SystemClock};
pub use contact::{normalize_email, normalize_phone, Consent, ContactInfo, PhoneError};
pub use event::{
    Erasure, Event, EventKind, MessageStatus, MessageStatusUpdate, OptOut, OptOutChannel, Tracked,
};
pub use import::{ImportPage, Importer};
pub use links::LinkPolicy;
pub use money::{Currency, Money, MoneyError};
pub use order::Order;
pub use problem::Problem;
pub use sink::{
    AddressKind, DeliveryError, OutboundMessage, Purpose, Receipt, Recipient, Sink, SinkContext,
};
pub use source::{
    verify, Handshake, InboundRequest, PollBatch, PollError, Poller, Source, TranslateError,
    Translation, Trust, Verified, VerifyError,
};

/// Events the hub itself observes (tracked links, unsubscribes, the on-site pop-up) are recorded
/// under this source id.
pub const HUB_SOURCE: &str = "hub";
