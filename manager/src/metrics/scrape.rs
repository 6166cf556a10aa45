//! `GET /metrics`: the exposition, served beside the console on the manager's HTTPS port.
//!
//! Not a separate plain-HTTP listener: the exposition names sensors and sites, and nothing of
//! the manager listens unauthenticated but gRPC health. So the caller must be an operator (any
//! role): a client certificate from `otwatch-manager user create --cred`, or a bearer token
//! (`--auth-token`), which Prometheus sends with `authorization: {credentials_file: ...}`, trusting
//! the manager's CA (`tls_config: {ca_file: ca.pem}`).

use super::CONTENT_TYPE;
use crate::api::{sign_in, Caller, Shared};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use otwatch_common::link::Identity;
use std::sync::Arc;

/// The `/metrics` route.
pub fn router(shared: Arc<Shared>) -> axum::Router {
    axum::Router::new()
        .route("/metrics", axum::routing::get(scrape))
        .with_state(shared)
}

async fn scrape(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    req: axum::extract::Request,
) -> Response {
    let (parts, _) = req.into_parts();
    let tls = crate::console::tls_of(&parts);
    let peer = crate::console::peer_of(tls.as_ref());
    let certs = tls.as_ref().and_then(|t| t.peer_certs());
    let authorization = header_text(&parts.headers, header::AUTHORIZATION);
    // A bearer token wins over a certificate (the sensor's own certificate is not an operator).
    let caller = match authorization {
        Some(a) => Caller::web(peer.clone(), None, Some(a)),
        None => Caller::web(peer.clone(), certs, None),
    };
    match sign_in(&shared, caller, "metrics").await {
        Ok(s) if matches!(s.identity, Identity::Operator { .. }) => {}
        Ok(s) => {
            tracing::warn!(%peer, who = %s.identity.uri(), "metrics refused: not an operator");
            return (
                StatusCode::FORBIDDEN,
                "metrics are for operators: use an operator certificate or token\n",
            )
                .into_response();
        }
        Err(st) => {
            let code = match st.code() {
                tonic::Code::PermissionDenied => StatusCode::FORBIDDEN,
                _ => StatusCode::UNAUTHORIZED,
            };
            return (code, format!("{}\n", st.message())).into_response();
        }
    }
    let m = shared.metrics.clone();
    match tokio::task::spawn_blocking(move || m.encode()).await {
        Ok(text) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
    }
}

fn header_text(h: &HeaderMap, name: header::HeaderName) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}
