//! The one place where errors become HTTP statuses. Bodies are one line of plain text (webhook
//! callers log them) or a small JSON object for the admin API.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("unknown source {0:?}")]
    UnknownSource(String),
    /// The admin API's 401: answered with `WWW-Authenticate: Bearer` (it takes a bearer token).
    #[error("{0}")]
    Unauthorized(String),
    /// A signed request whose signature check failed (a webhook, the pop-up's identify, a
    /// visitor token): 401 with the reason (for a webhook, the scheme the source expects), and no
    /// `WWW-Authenticate` (these are signed, not bearer-token requests: no HTTP challenge applies).
    #[error("{0}")]
    BadSignature(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("the store is unavailable; retry later")]
    StoreUnavailable,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::UnknownSource(_) | ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Unauthorized(_) | ApiError::BadSignature(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::StoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl From<cartback_store::StoreError> for ApiError {
    fn from(err: cartback_store::StoreError) -> Self {
        tracing::error!(error = %err, "Store call failed.");
        ApiError::StoreUnavailable
    }
}

impl From<cartback_engine::AcceptError> for ApiError {
    fn from(err: cartback_engine::AcceptError) -> Self {
        match err {
            cartback_engine::AcceptError::Invalid(reason) => ApiError::BadRequest(reason),
            cartback_engine::AcceptError::Store(e) => e.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut resp = (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("{self}\n"),
        )
            .into_response();
        if matches!(self, ApiError::StoreUnavailable) {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
        }
        // Only the admin API takes a bearer token; a webhook's 401 carries no challenge.
        if matches!(self, ApiError::Unauthorized(_)) {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        resp
    }
}

pub async fn not_found() -> ApiError {
    ApiError::NotFound("no such route".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_admin_401_challenges_for_a_bearer_token() {
        let admin = ApiError::Unauthorized("invalid admin token".into()).into_response();
        assert_eq!(admin.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(admin.headers()[header::WWW_AUTHENTICATE], "Bearer");
        let webhook = ApiError::BadSignature("signature does not match".into()).into_response();
        assert_eq!(webhook.status(), StatusCode::UNAUTHORIZED);
        assert!(webhook.headers().get(header::WWW_AUTHENTICATE).is_none());
    }
}
