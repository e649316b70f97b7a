//! `cartback simulate`: the recorded events of a period applied again, through other flows, on a
//! virtual clock, with nothing sent.
//!
//! The caller opens a scratch store with the new flows' rules and builds an engine for them on a
//! [`ManualClock`]; [`Engine::dry_run`] swaps every channel's sink for a [`DrySink`], which sends
//! nothing and writes down what reached it; [`replay`] then reads the live store's log in the order
//! it arrived and, before each event, moves the clock to every timer that fell due in between
//! (abandonment checks, steps, quiet hours' ends), runs it and delivers what it queued, exactly as
//! the workers would have. What the shoppers did (carts, checkouts, orders, opt-outs) is replayed;
//! what they did with the messages the hub really sent (opens, clicks, provider reports) is not,
//! so a step on `opened` or `clicked` sees none. `forecast.rs` compares the outcome with what the
//! running configuration sent.

use crate::accept::Arrival;
use crate::front::Engine;
use async_trait::async_trait;
use cartback_core::{Clock, DeliveryError, ManualClock, OutboundMessage, Purpose, Receipt, Sink};
use cartback_store::{ReadModel, StoreResult};
use chrono::{DateTime, Utc};
use std::sync::{Arc, Mutex};

/// One message that would have gone out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrySend {
    pub channel: String,
    pub flow: String,
    /// Counted from 1, as everywhere; 0 for a hand-off's news that the cart was bought.
    pub step: u32,
    /// The contact it would have reached (`contact_id`): how many people a step reaches.
    pub contact: String,
    /// When, on the virtual clock.
    pub at: DateTime<Utc>,
    /// When the cart last changed before it: how long after the shopper left it went out.
    pub cart_updated_at: Option<DateTime<Utc>>,
}

/// What every [`DrySink`] of one engine wrote down.
#[derive(Debug, Default)]
pub struct DrySends(Mutex<Vec<DrySend>>);

impl DrySends {
    pub fn take(&self) -> Vec<DrySend> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn push(&self, send: DrySend) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(send);
    }
}

/// A channel's sink in a simulation: answers "sent" at once and sends nothing.
#[derive(Debug)]
pub struct DrySink {
    clock: Arc<dyn Clock>,
    sends: Arc<DrySends>,
}

#[async_trait]
impl Sink for DrySink {
    fn kind(&self) -> &'static str {
        "dry-run"
    }

    async fn deliver(&self, message: &OutboundMessage) -> Result<Receipt, DeliveryError> {
        let meta = |k: &str| message.metadata.get(k).cloned().unwrap_or_default();
        let step = match message.purpose {
            Purpose::Reminder => meta("step").parse().unwrap_or(0),
            _ => 0,
        };
        self.sends.push(DrySend {
            channel: message.channel_id.clone(),
            flow: meta("flow_id"),
            step,
            contact: meta("contact_id"),
            at: self.clock.now(),
            cart_updated_at: message.cart.as_ref().map(|c| c.updated_at),
        });
        Ok(Receipt {
            provider_message_id: Some(format!("dry-{}", message.id)),
        })
    }
}

impl Engine {
    /// This engine with every channel's sink replaced by a [`DrySink`] (and no send rate: the
    /// clock is virtual): nothing leaves the process; what would have is in the returned list.
    pub fn dry_run(mut self) -> (Engine, Arc<DrySends>) {
        let sends = Arc::new(DrySends::default());
        for channel in self.channels.values_mut() {
            channel.sink = Arc::new(DrySink {
                clock: self.clock.clone(),
                sends: sends.clone(),
            });
            channel.limiter = None;
        }
        (self, sends)
    }
}

/// What a replay went through.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReplayTally {
    /// Events of the window applied again.
    pub events: u64,
    /// Events the new configuration refuses (a link host no longer allowed, say).
    pub refused: u64,
    /// Timers fired on the virtual clock (abandonment checks, steps).
    pub timers: u64,
    /// Messages the dry sinks took.
    pub messages: u64,
}

/// Events read from the log per page.
const PAGE: u32 = 500;

/// Applies the events `log` received in `[from, to]` to `engine` (a dry-run engine on `clock`,
/// over a scratch store), firing timers and delivering as time passes, up to `to`.
pub async fn replay(
    engine: &Engine,
    clock: &ManualClock,
    log: &dyn ReadModel,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> StoreResult<ReplayTally> {
    let mut tally = ReplayTally::default();
    clock.set(from);
    let mut after = 0;
    loop {
        let page = log.replay_events(from, to, after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for recorded in page {
            advance(engine, clock, recorded.received_at, &mut tally).await?;
            let arrival = Arrival {
                source_id: &recorded.event.source_id,
                delivery_ids: &[],
                events: vec![recorded.event.clone()],
                received_at: clock.now(),
                trust: recorded.trust,
            };
            match engine.accept(arrival).await {
                Ok(_) => tally.events += 1,
                Err(crate::AcceptError::Invalid(reason)) => {
                    tracing::debug!(seq = recorded.seq, %reason, "Replayed event refused.");
                    tally.refused += 1;
                }
                Err(crate::AcceptError::Store(e)) => return Err(e),
            }
        }
    }
    advance(engine, clock, to, &mut tally).await?;
    Ok(tally)
}

/// Moves the clock to `until`, stopping at every timer due on the way: fires it and delivers.
async fn advance(
    engine: &Engine,
    clock: &ManualClock,
    until: DateTime<Utc>,
    tally: &mut ReplayTally,
) -> StoreResult<()> {
    loop {
        let now = clock.now();
        match engine.store.next_timer_due().await? {
            Some(due) if due <= until => {
                if due > now {
                    clock.set(due);
                }
                let fired = engine.run_due().await?;
                tally.timers += fired as u64;
                tally.messages += engine.deliver_due().await? as u64;
                if fired == 0 {
                    // Held by a lease that ends later than it says, or due again at once: step
                    // past it rather than spin.
                    clock.set(clock.now() + chrono::Duration::seconds(1));
                }
            }
            _ => break,
        }
    }
    if until > clock.now() {
        clock.set(until);
    }
    // Every message is queued by a timer (a step, or an order's attribution), and delivered
    // right after it fired: no event alone leaves anything to deliver.
    Ok(())
}
