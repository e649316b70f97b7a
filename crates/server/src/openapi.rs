//! The admin API described: one table ([`ADMIN`]) is both what `admin::routes` mounts and what
//! the OpenAPI 3.1 document lists (built with utoipa's types), so no route can be served without
//! being described. Served at `GET /api/v1/openapi.json` (no token: it describes, it holds no data).

use crate::state::AppState;
use axum::routing::MethodRouter;
use axum::Json;
use utoipa::openapi::path::{
    HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem,
};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, Required,
    SecurityRequirement, ServerBuilder,
};

/// One admin route: its method and path (below `/api/v1`), what it does, and its handler.
pub struct Route {
    pub method: HttpMethod,
    /// The method's name (`Get`), for ids and tests.
    pub verb: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
    /// The query parameters it reads.
    pub query: &'static [&'static str],
    pub handler: fn() -> MethodRouter<AppState>,
}

macro_rules! route {
    ($method:ident, $path:literal, $summary:literal, [$($q:literal),*], $handler:expr) => {
        Route {
            method: HttpMethod::$method,
            verb: stringify!($method),
            path: $path,
            summary: $summary,
            query: &[$($q),*],
            handler: || $handler,
        }
    };
}

use axum::routing::{delete, get, post};

/// Every admin route (docs/API.md tells each one in full).
pub const ADMIN: &[Route] = &[
    route!(
        Get,
        "/carts",
        "Carts, newest first",
        ["email", "status", "source", "limit"],
        get(crate::admin::list_carts)
    ),
    route!(
        Get,
        "/carts/{id}",
        "One cart",
        [],
        get(crate::admin::get_cart)
    ),
    route!(
        Get,
        "/carts/{id}/runs",
        "A cart's flow runs: steps taken, the last and the next",
        [],
        get(crate::flows_api::cart_runs)
    ),
    route!(
        Delete,
        "/contacts",
        "Erase a shopper everywhere",
        ["email", "phone"],
        delete(crate::privacy::erase)
    ),
    route!(
        Get,
        "/contacts/export",
        "Everything held about a shopper",
        ["email", "phone"],
        get(crate::privacy::export)
    ),
    route!(
        Get,
        "/contacts/{id}",
        "One contact",
        [],
        get(crate::admin::get_contact)
    ),
    route!(
        Get,
        "/contacts/{id}/tags",
        "A contact's tags",
        [],
        get(crate::admin::get_tags)
    ),
    route!(
        Post,
        "/contacts/{id}/tags",
        "Tag a contact (a new tag starts its tag: flows)",
        [],
        post(crate::admin::add_tags)
    ),
    route!(
        Get,
        "/flows",
        "The flows and their state (enabled, paused, retired)",
        [],
        get(crate::operate::list)
    ),
    route!(
        Post,
        "/flows/{id}/test",
        "Test mode: every step now, marked test",
        [],
        post(crate::flows_api::test_flow)
    ),
    route!(
        Get,
        "/flows/{id}/report",
        "A flow's report: funnel, treated vs holdout, reasons",
        ["from", "to"],
        get(crate::flows_api::report)
    ),
    route!(
        Post,
        "/flows/{id}/pause",
        "Pause a flow for every instance",
        [],
        post(crate::operate::pause)
    ),
    route!(
        Post,
        "/flows/{id}/resume",
        "Resume a paused flow",
        [],
        post(crate::operate::resume)
    ),
    route!(
        Post,
        "/config/reload",
        "Read the configuration file again (validated first)",
        [],
        post(crate::operate::reload)
    ),
    route!(
        Get,
        "/messages",
        "The outbox, newest first",
        ["status", "run_id", "channel", "limit"],
        get(crate::flows_api::messages)
    ),
    route!(
        Get,
        "/messages/{id}",
        "One message whole",
        [],
        get(crate::dead_letters::message)
    ),
    route!(
        Post,
        "/messages/redrive",
        "Queue failed or unknown messages again",
        [],
        post(crate::flows_api::redrive)
    ),
    route!(
        Get,
        "/dead-letters",
        "Failed and unknown messages, journal records set aside",
        [],
        get(crate::dead_letters::list)
    ),
    route!(
        Get,
        "/dead-letters/journal/{seq}",
        "One journal record set aside, whole",
        [],
        get(crate::dead_letters::journal_record)
    ),
    route!(
        Post,
        "/dead-letters/journal/redrive",
        "Apply journal records set aside again",
        [],
        post(crate::dead_letters::journal_redrive)
    ),
    route!(
        Post,
        "/sources/{id}/import",
        "Start (or resume) importing a source's history: {\"since\": \"30d\"}",
        [],
        post(crate::imports::start)
    ),
    route!(
        Get,
        "/sources/{id}/import",
        "An import's status: state, pages, events, carts, orders",
        [],
        get(crate::imports::status)
    ),
    route!(
        Delete,
        "/sources/{id}/import",
        "Stop an import after its current page (resumable)",
        [],
        delete(crate::imports::stop)
    ),
    route!(
        Post,
        "/onsite/preview",
        "A signed preview link of the pop-up for a cart",
        [],
        post(crate::onsite::preview)
    ),
];

/// The path's `{name}` parameters.
fn path_params(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .collect()
}

/// The OpenAPI 3.1 document of [`ADMIN`].
pub fn document() -> OpenApi {
    let mut paths = PathsBuilder::new();
    for r in ADMIN {
        let mut op = OperationBuilder::new()
            .summary(Some(r.summary))
            .operation_id(Some(format!(
                "{}{}",
                r.verb.to_lowercase(),
                r.path.replace(['/', '{', '}', '-'], "_")
            )))
            .security(SecurityRequirement::new::<&str, [&str; 0], &str>(
                "admin_token",
                [],
            ))
            .response("200", ResponseBuilder::new().description("Done (JSON)"))
            .response(
                "400",
                ResponseBuilder::new().description("The request's mistake, with the reason"),
            )
            .response(
                "401",
                ResponseBuilder::new().description("No or a wrong admin token"),
            )
            .response(
                "404",
                ResponseBuilder::new().description("No such resource"),
            );
        for p in path_params(r.path) {
            op = op.parameter(
                ParameterBuilder::new()
                    .name(p)
                    .parameter_in(ParameterIn::Path)
                    .required(Required::True),
            );
        }
        for q in r.query {
            op = op.parameter(
                ParameterBuilder::new()
                    .name(*q)
                    .parameter_in(ParameterIn::Query)
                    .required(Required::False),
            );
        }
        paths = paths.path(
            format!("/api/v1{}", r.path),
            PathItem::new(r.method.clone(), op.build()),
        );
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("cartback admin API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Every call needs Authorization: Bearer <server.admin_token>. docs/API.md tells each route in full.",
                )),
        )
        .servers(Some([ServerBuilder::new().url("/").build()]))
        .paths(paths.build())
        .components(Some(
            ComponentsBuilder::new()
                .security_scheme(
                    "admin_token",
                    SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
                )
                .build(),
        ))
        .build()
}

/// `GET /api/v1/openapi.json`
pub async fn serve() -> Json<OpenApi> {
    Json(document())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_admin_route_is_described_and_every_route_mounted_comes_from_the_table() {
        let doc = serde_json::to_value(document()).unwrap_or_default();
        assert!(doc["openapi"].as_str().unwrap_or("").starts_with("3.1"));
        for r in ADMIN {
            let method = r.verb.to_lowercase();
            let op = &doc["paths"][format!("/api/v1{}", r.path)][&method];
            assert_eq!(op["summary"], r.summary, "{} {}", method, r.path);
            for p in path_params(r.path) {
                assert!(op["parameters"].to_string().contains(p), "{}: {p}", r.path);
            }
        }
        // admin.rs mounts the table and nothing else: a route added there by hand would be
        // served undescribed.
        let admin = include_str!("admin.rs");
        assert_eq!(
            admin.matches(".route(").count(),
            1,
            "admin.rs must mount only openapi::ADMIN"
        );
    }
}
