//! cartback-server: the hub's HTTP surface (axum).
//!
//! # Layout
//! - [`settings`]: the `[server]` table (listen address, public URL, admin token, body limit).
//! - [`state`]: [`AppState`], what every handler shares: the store, the configured sources, the clock.
//! - [`webhooks`]: `POST /webhooks/{source_id}`: verify → translate → commit → answer.
//! - [`admin`]: `/api/v1/...` behind the bearer admin token: carts and contacts.
//! - [`flows_api`]: the admin API for flows and messages: test mode (`POST /api/v1/flows/{id}/test`), a cart's runs, the message queue and redrive.
//! - [`tracking`]: `/t/`, `/r/`, `/o/`, `/u/`: signed links that record clicks, opens and unsubscribes.
//! - [`dashboard`]: `/dashboard`, the server-rendered report page (login form, HttpOnly cookie);
//!   [`session`]: its sessions and the same-origin rule for its forms; [`headers`]: the
//!   Content-Security-Policy and friends on the dashboard and `/u/` pages.
//! - [`auth`]: how strong the admin token must be; wrong tokens rate-limited per client.
//! - [`conn`]: the accept loop: header and idle timeouts, the connection cap, the fd limit.
//! - [`survey`]: "why they left": `/s/` (the survey page a message links to, its one-click
//!   answer) and the pop-up's answer (`/onsite/survey`).
//! - [`onsite`]: the return-visit pop-up: `widget.js`, the shopper's cart, identify, events; the `web` channel.
//! - [`dead_letters`]: failed and unknown messages and journal records set aside: listed,
//!   inspected, redriven (admin API and `/dashboard/dead-letters`).
//! - [`openapi`]: the admin routes' table, mounted by `admin` and described as OpenAPI 3.1 at
//!   `/api/v1/openapi.json`.
//! - [`imports`]: imports (`cartback import`) started, watched and stopped through the admin API
//!   (`/api/v1/sources/{id}/import`); the jobs are the engine's.
//! - [`operate`]: flows listed, paused and resumed; the configuration reloaded.
//! - [`privacy`]: a shopper erased (`DELETE /api/v1/contacts`) or exported
//!   (`GET /api/v1/contacts/export`) on the admin's request.
//! - [`health`]: `/healthz` (process up) and `/readyz` (store reachable).
//! - [`metrics`]: the Prometheus recorder, `/metrics`, and the request-latency layer.
//! - [`error`]: [`ApiError`], the one place where errors become HTTP statuses.
//! - [`observe`]: a `request` span per request with its id (echoed in `x-request-id`); the 408
//!   timeout of admin and dashboard requests.
//!
//! [`router`] builds the app without a socket (tests call it with `oneshot`); [`serve`] runs it on a
//! listener the caller bound (tests bind port 0) until the shutdown future resolves.

pub mod admin;
pub mod auth;
pub mod conn;
pub mod dashboard;
pub mod dead_letters;
pub mod error;
pub mod flows_api;
pub mod headers;
pub mod health;
pub mod imports;
pub mod metrics;
pub mod observe;
pub mod onsite;
pub mod openapi;
pub mod operate;
pub mod privacy;
pub mod session;
pub mod settings;
pub mod state;
pub mod survey;
pub mod tracking;
pub mod webhooks;

pub use error::ApiError;
pub use settings::{ByteSize, ServerSettings};
pub use state::AppState;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use std::future::Future;
use std::time::Duration;

/// The whole HTTP app.
pub fn router(state: AppState) -> Router {
    // Install the recorder before the first request so no count is lost.
    metrics::handle();
    let max_body = state.settings.max_body.bytes();
    // Paths sources mount at the root (Segment-compatible API): POST only, gzip bodies accepted.
    let mut mounts: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    let mut ids: Vec<&String> = state.sources.keys().collect();
    ids.sort();
    for id in ids {
        for path in state.sources[id].mounts() {
            mounts.entry(path).or_default().push(id.clone());
        }
    }
    let mut mounted = Router::new();
    for (path, candidates) in mounts {
        let candidates = std::sync::Arc::new(candidates);
        mounted = mounted.route(
            &path,
            post(
                move |axum::extract::State(state): axum::extract::State<AppState>,
                      method: http::Method,
                      uri: http::Uri,
                      headers: http::HeaderMap,
                      body: axum::body::Bytes| {
                    webhooks::mounted(state, candidates.clone(), method, uri, headers, body)
                },
            )
            .layer(DefaultBodyLimit::max(max_body)),
        );
    }
    let mounted = mounted.layer(tower_http::decompression::RequestDecompressionLayer::new());
    Router::new()
        .merge(mounted)
        .route(
            "/webhooks/{source_id}",
            post(webhooks::receive).layer(DefaultBodyLimit::max(max_body)),
        )
        .route("/t/{token}", get(tracking::click))
        .route("/r/{token}", get(tracking::recover))
        .route("/o/{token}", get(tracking::open))
        .route(
            "/u/{token}",
            get(tracking::unsubscribe_page)
                .post(tracking::unsubscribe)
                .layer(axum::middleware::map_response(headers::unsubscribe_page)),
        )
        .route(
            "/s/{token}",
            get(survey::survey_page)
                .post(survey::survey_answer)
                .layer(DefaultBodyLimit::max(survey::MAX_BODY))
                .layer(axum::middleware::map_response(headers::unsubscribe_page))
                .layer(axum::middleware::from_fn_with_state(
                    state.clone(),
                    session::same_origin_only,
                )),
        )
        .route(
            "/onsite/survey",
            post(survey::onsite_answer).layer(DefaultBodyLimit::max(4096)),
        )
        .route("/onsite/widget.js", get(onsite::widget))
        .route("/onsite/cart", get(onsite::cart))
        .route("/onsite/identify", get(onsite::identify))
        .route(
            "/onsite/event",
            post(onsite::event).layer(DefaultBodyLimit::max(4096)),
        )
        .merge(dashboard_routes(state.clone()))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::render))
        .route("/api/v1/openapi.json", get(openapi::serve))
        .nest("/api/v1", admin::routes(state.clone()))
        .route_layer(axum::middleware::from_fn(metrics::track_latency))
        .route_layer(axum::middleware::from_fn(observe::request_span))
        .fallback(error::not_found)
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            max_body.saturating_add(1024),
        ))
        .layer(axum::Extension(
            std::sync::Arc::new(auth::Guards::default()),
        ))
        .with_state(state)
}

/// `/dashboard`, its sign-in and sign-out: cross-site posts refused, security headers on every
/// answer.
fn dashboard_routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/dashboard", get(dashboard::dashboard))
        .route(
            "/dashboard/login",
            get(dashboard::login_form).post(dashboard::login),
        )
        .route("/dashboard/logout", post(dashboard::logout))
        .route("/dashboard/dead-letters", get(dead_letters::page))
        .route(
            "/dashboard/dead-letters/redrive",
            post(dead_letters::page_redrive),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            state,
            session::same_origin_only,
        ))
        .layer(observe::admin_timeout())
        .layer(axum::middleware::map_response(headers::dashboard))
}

/// Serves `router(state)` on `listener` until `shutdown` resolves, then drains in-flight requests
/// for at most `drain` before returning. Connections are bounded by `[server]`'s
/// `header_read_timeout`, `idle_timeout` and `max_connections` (see [`conn`]).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
    drain: Duration,
) -> std::io::Result<()> {
    let limits = conn::Limits::from_settings(&state.settings);
    conn::serve(listener, router(state), limits, shutdown, drain).await
}
