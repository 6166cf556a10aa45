//! The web console, served by `otwatch-manager serve` on the manager's own HTTPS port (the same
//! certificate; gRPC and the console share the listener: gRPC calls go to their services, every
//! other path comes here).
//!
//! What a browser may do is exactly what the Manager API lets the signed-in operator do: each
//! data or action route calls the Manager service in-process with the session's identity
//! attached ([`SignedIn`]), so roles, filters and refusals are the API's own.
//!
//! - Sign in with an operator bearer token (`POST /api/login`) or, with an empty token, the
//!   browser's operator client certificate. The session is a random secret in a `__Host-`
//!   cookie (HttpOnly, Secure, SameSite=Strict); only its hash is kept ([`session`]).
//! - Every POST must carry the session's CSRF token in `X-CSRF-Token` and a JSON body (which a
//!   cross-site form cannot send without a preflight the manager never answers), and requests
//!   a browser marks cross-site are refused.
//! - Without a session only the login page and its files are served; data and action routes
//!   answer 401, the app's pages redirect to the login page.
//! - Every response carries a Content-Security-Policy without inline script or style.
//!
//! Routes: `GET /login`, `GET /static/{file}`, the app's pages (`/`, `/map`, `/assets[/{id}]`,
//! `/alerts[/{id}]`, `/sensors`, `/risk`), `POST /api/login`, `GET /api/session`,
//! `POST /api/logout`, `POST /api/v1/{Method}` (a unary Manager call: the request message as
//! JSON in, the response message as JSON out), `GET /api/v1/Watch` (server-sent events),
//! `GET /api/map` (the asset graph) and `GET /api/report` (the risk report as a download).

mod files;
mod map;
pub mod session;

use crate::api::{sign_in, Caller, ManagerService, Shared, SignedIn};
use crate::cli::report;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use otwatch_common::link::Identity;
use otwatch_proto::v1::manager_server::Manager;
use otwatch_proto::v1::{
    FleetAlert, GetRiskRequest, ListAlertsRequest, ListAssetsRequest, ListAssetsResponse,
    ListConnectionsRequest, ListConnectionsResponse, ListSitesRequest, ListSitesResponse,
    RiskAssessment,
};
use serde::Serialize;
use session::{Session, Sessions, COOKIE};
use std::sync::Arc;
use std::time::Duration;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
use tonic::{Code, Status};
use tracing::{info, warn};

/// The policy on every response: scripts, styles and everything else from this origin only, no
/// inline script or style, no framing, no plugins.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";
/// The largest request body a console call may send.
const MAX_BODY: usize = 1 << 20;
/// How often an idle event stream sends a comment, so proxies keep it open and a closed
/// session is noticed.
const KEEPALIVE: Duration = Duration::from_secs(20);

/// The console's state: the manager's, and the open sessions.
struct Console {
    shared: Arc<Shared>,
    sessions: Sessions,
}

type Shared_ = State<Arc<Console>>;

/// The console's routes, for the manager's server to add beside its gRPC services.
pub fn router(shared: Arc<Shared>) -> Router {
    let console = Arc::new(Console {
        shared,
        sessions: Sessions::default(),
    });
    let mut r = Router::new()
        .route("/login", get(login_page))
        .route("/static/{file}", get(static_file))
        .route("/api/login", post(login))
        .route("/api/session", get(session_info))
        .route("/api/logout", post(logout))
        .route("/api/v1/Watch", get(watch))
        .route("/api/v1/{method}", post(call))
        .route("/api/map", get(map_data))
        .route("/api/report", get(report_download));
    for page in files::APP_PAGES {
        r = r.route(page, get(app_page));
    }
    r.fallback(fallback)
        .layer(axum::middleware::map_response(secure_headers))
        .with_state(console)
}

/// The headers every console response carries.
async fn secure_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    let set = |h: &mut HeaderMap, k: &'static str, v: &'static str| {
        h.insert(k, HeaderValue::from_static(v));
    };
    set(h, "content-security-policy", CSP);
    set(h, "x-content-type-options", "nosniff");
    set(h, "x-frame-options", "DENY");
    set(h, "referrer-policy", "no-referrer");
    set(h, "cross-origin-opener-policy", "same-origin");
    set(h, "cross-origin-resource-policy", "same-origin");
    set(h, "strict-transport-security", "max-age=31536000");
    if !h.contains_key(header::CACHE_CONTROL) {
        set(h, "cache-control", "no-store");
    }
    r
}

/// An error answer: `{"code": "permission_denied", "message": "..."}` with the HTTP status of
/// the gRPC code.
fn error(code: Code, message: impl Into<String>) -> Response {
    #[derive(Serialize)]
    struct E<'a> {
        code: &'a str,
        message: String,
    }
    let (status, name) = http_of(code);
    let body = E {
        code: name,
        message: message.into(),
    };
    json_response(status, &body)
}

fn from_status(s: Status) -> Response {
    error(s.code(), s.message())
}

/// The HTTP status and the lower-case name of a gRPC code.
fn http_of(code: Code) -> (StatusCode, &'static str) {
    match code {
        Code::Ok => (StatusCode::OK, "ok"),
        Code::InvalidArgument => (StatusCode::BAD_REQUEST, "invalid_argument"),
        Code::OutOfRange => (StatusCode::BAD_REQUEST, "out_of_range"),
        Code::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated"),
        Code::PermissionDenied => (StatusCode::FORBIDDEN, "permission_denied"),
        Code::NotFound => (StatusCode::NOT_FOUND, "not_found"),
        Code::AlreadyExists => (StatusCode::CONFLICT, "already_exists"),
        Code::Aborted => (StatusCode::CONFLICT, "aborted"),
        Code::FailedPrecondition => (StatusCode::PRECONDITION_FAILED, "failed_precondition"),
        Code::ResourceExhausted => (StatusCode::TOO_MANY_REQUESTS, "resource_exhausted"),
        Code::Unimplemented => (StatusCode::NOT_IMPLEMENTED, "unimplemented"),
        Code::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        Code::DeadlineExceeded => (StatusCode::GATEWAY_TIMEOUT, "deadline_exceeded"),
        Code::Cancelled => (StatusCode::BAD_REQUEST, "cancelled"),
        Code::DataLoss => (StatusCode::INTERNAL_SERVER_ERROR, "data_loss"),
        Code::Internal | Code::Unknown => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
    }
}

fn json_response(status: StatusCode, body: &impl Serialize) -> Response {
    match serde_json::to_vec(body) {
        Ok(b) => (
            status,
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            b,
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

fn unauthorized() -> Response {
    error(
        Code::Unauthenticated,
        "not signed in, or the session ended; sign in at /login",
    )
}

/// The value of cookie `name` among the request's cookies.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Whether the browser says the request comes from another site (`Sec-Fetch-Site`), or its
/// `Origin` is not this host (the `Host` header, or over HTTP/2 the request's authority).
fn cross_site(headers: &HeaderMap, uri: &Uri) -> bool {
    let fetch_site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("same-origin");
    if !matches!(fetch_site, "same-origin" | "none") {
        return true;
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()));
    match (
        headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()),
        host,
    ) {
        (Some(origin), Some(host)) => origin
            .strip_prefix("https://")
            .is_none_or(|o| !o.eq_ignore_ascii_case(host)),
        (Some(_), None) => true,
        (None, _) => false,
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

/// Refuses a change that could have been forged by another site: see the module's docs.
fn forged(headers: &HeaderMap, uri: &Uri, session: Option<&Session>) -> Option<Response> {
    if cross_site(headers, uri) {
        return Some(error(
            Code::PermissionDenied,
            "cross-site request refused; use the console at its own address",
        ));
    }
    if !is_json(headers) {
        return Some(error(
            Code::InvalidArgument,
            "send the request as Content-Type: application/json",
        ));
    }
    if let Some(s) = session {
        let sent = headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !session::same_secret(sent, &s.csrf) {
            return Some(error(
                Code::PermissionDenied,
                "missing or wrong X-CSRF-Token; reload the console",
            ));
        }
    }
    None
}

/// The connection's TLS details (peer address, client certificate), as tonic records them.
pub(crate) fn tls_of(req: &axum::http::request::Parts) -> Option<TlsConnectInfo<TcpConnectInfo>> {
    req.extensions
        .get::<TlsConnectInfo<TcpConnectInfo>>()
        .cloned()
}

pub(crate) fn peer_of(tls: Option<&TlsConnectInfo<TcpConnectInfo>>) -> String {
    tls.and_then(|t| t.get_ref().remote_addr())
        .map_or_else(|| "unknown".to_string(), |a| a.to_string())
}

impl Console {
    /// The request's live session and its cookie secret.
    fn session(&self, headers: &HeaderMap) -> Option<(String, Session)> {
        let secret = cookie(headers, COOKIE)?;
        let s = self.sessions.get(secret)?;
        Some((secret.to_string(), s))
    }

    /// A Manager API request on behalf of `who`, from the connection `tls`.
    fn request<T>(
        who: &SignedIn,
        tls: Option<&TlsConnectInfo<TcpConnectInfo>>,
        message: T,
    ) -> tonic::Request<T> {
        let mut r = tonic::Request::new(message);
        r.extensions_mut().insert(who.clone());
        if let Some(t) = tls {
            r.extensions_mut().insert(t.clone());
        }
        r
    }
}

async fn login_page(State(c): Shared_, headers: HeaderMap) -> Response {
    if c.session(&headers).is_some() {
        return redirect("/");
    }
    files::serve("login.html")
}

fn redirect(to: &'static str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response()
}

async fn app_page(State(c): Shared_, headers: HeaderMap) -> Response {
    if c.session(&headers).is_none() {
        return redirect("/login");
    }
    files::serve("index.html")
}

async fn static_file(State(c): Shared_, Path(file): Path<String>, headers: HeaderMap) -> Response {
    match files::access(&file) {
        Some(files::Access::Public) => files::serve(&file),
        Some(files::Access::SignedIn) if c.session(&headers).is_some() => files::serve(&file),
        Some(files::Access::SignedIn) => unauthorized(),
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

/// What the browser learns of its session.
#[derive(Serialize)]
struct SessionInfo<'a> {
    name: &'a str,
    role: &'a str,
    csrf: &'a str,
    /// RFC 3339.
    expires_at: String,
}

fn session_body(s: &Session) -> Response {
    let (name, role) = match &s.signed_in.identity {
        Identity::Operator { name, role } => (name.as_str(), role.as_str()),
        _ => ("", ""),
    };
    json_response(
        StatusCode::OK,
        &SessionInfo {
            name,
            role,
            csrf: &s.csrf,
            expires_at: crate::pki::rfc3339(s.ends_at),
        },
    )
}

async fn session_info(State(c): Shared_, headers: HeaderMap) -> Response {
    match c.session(&headers) {
        Some((_, s)) => session_body(&s),
        None => unauthorized(),
    }
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct LoginBody {
    token: String,
}

async fn login(State(c): Shared_, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    if let Some(r) = forged(&parts.headers, &parts.uri, None) {
        return r;
    }
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
        return error(Code::InvalidArgument, "the request body is too large");
    };
    let Ok(login) = serde_json::from_slice::<LoginBody>(&body) else {
        return error(Code::InvalidArgument, "send {\"token\": \"otwop1....\"}");
    };
    let tls = tls_of(&parts);
    let peer = peer_of(tls.as_ref());
    let token = login.token.trim();
    let certs = tls.as_ref().and_then(TlsConnectInfo::peer_certs);
    let caller = if token.is_empty() {
        if certs.is_none() {
            return error(
                Code::Unauthenticated,
                "enter an operator token (an admin makes one with `otwatch-manager user create --name NAME --role analyst --auth-token --state DIR`), or present an operator certificate",
            );
        }
        Caller::web(peer.clone(), certs, None)
    } else {
        Caller::web(peer.clone(), None, Some(format!("Bearer {token}")))
    };
    let signed_in = match sign_in(&c.shared, caller, "console sign-in").await {
        Ok(s) => s,
        Err(st) => return from_status(st),
    };
    let Identity::Operator { name, role } = &signed_in.identity else {
        warn!(%peer, who = %signed_in.identity.uri(), "console sign-in refused: not an operator");
        return error(
            Code::PermissionDenied,
            "only operators sign in to the console; a sensor's certificate cannot",
        );
    };
    info!(%peer, operator = %name, role = role.as_str(), "console sign-in");
    // The console opens on the fleet's map, which needs the fleet's risk assessment: start it
    // now (kept, and shared with a map request that comes while it runs), not on the first
    // request.
    let shared = c.shared.clone();
    tokio::task::spawn_blocking(move || {
        if let Err(e) = shared.assess("", crate::pki::now_secs()) {
            warn!(error = %e, "assessing the fleet's risk at a console sign-in");
        }
    });
    let opened = match c.sessions.open(signed_in.clone()) {
        Ok(o) => o,
        Err(e) => return error(Code::Internal, e.to_string()),
    };
    let max_age = (opened.session.ends_at - crate::pki::now_secs()).max(0);
    let mut r = session_body(&opened.session);
    let cookie = format!(
        "{COOKIE}={}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={max_age}",
        opened.secret
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

async fn logout(State(c): Shared_, req: Request) -> Response {
    let Some((secret, s)) = c.session(req.headers()) else {
        return unauthorized();
    };
    if let Some(r) = forged(req.headers(), req.uri(), Some(&s)) {
        return r;
    }
    c.sessions.close(&secret);
    if let Identity::Operator { name, .. } = &s.signed_in.identity {
        info!(operator = %name, "console sign-out");
    }
    let gone = format!("{COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0");
    let mut r = StatusCode::NO_CONTENT.into_response();
    if let Ok(v) = HeaderValue::from_str(&gone) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

/// `POST /api/v1/{Method}`: one unary Manager call with the session's identity.
async fn call(State(c): Shared_, Path(method): Path<String>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let Some((_, s)) = c.session(&parts.headers) else {
        return unauthorized();
    };
    if let Some(r) = forged(&parts.headers, &parts.uri, Some(&s)) {
        return r;
    }
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
        return error(Code::InvalidArgument, "the request body is too large");
    };
    let body: &[u8] = if body.is_empty() { b"{}" } else { &body };
    let tls = tls_of(&parts);
    let svc = ManagerService(c.shared.clone());
    macro_rules! unary {
        ($f:ident) => {{
            let message = match serde_json::from_slice(body) {
                Ok(m) => m,
                Err(e) => {
                    return error(
                        Code::InvalidArgument,
                        format!("the body is not a {method} request: {e}"),
                    )
                }
            };
            match svc
                .$f(Console::request(&s.signed_in, tls.as_ref(), message))
                .await
            {
                Ok(r) => json_response(StatusCode::OK, &r.into_inner()),
                Err(st) => from_status(st),
            }
        }};
    }
    match method.as_str() {
        "ListSites" => unary!(list_sites),
        "ListSensors" => unary!(list_sensors),
        "RevokeSensor" => unary!(revoke_sensor),
        "CreateEnrollmentToken" => unary!(create_enrollment_token),
        "RevokeOperator" => unary!(revoke_operator),
        "CreateOperatorToken" => unary!(create_operator_token),
        "ListAssets" => unary!(list_assets),
        "GetAsset" => unary!(get_asset),
        "ListConnections" => unary!(list_connections),
        "ListAlerts" => unary!(list_alerts),
        "GetAlert" => unary!(get_alert),
        "AcknowledgeAlert" => unary!(acknowledge_alert),
        "ResolveAlert" => unary!(resolve_alert),
        "ListAdvisories" => unary!(list_advisories),
        "GetRisk" => unary!(get_risk),
        "ApproveAssets" => unary!(approve_assets),
        "GetRetention" => unary!(get_retention),
        _ => error(
            Code::NotFound,
            format!("no console call {method}; the unary calls of the Manager service are (see manager.proto), and GET /api/v1/Watch"),
        ),
    }
}

/// The query parameter `name` of a request, percent-decoded.
fn query_param(uri: &axum::http::Uri, name: &str) -> Option<String> {
    uri.query()?
        .split('&')
        .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| percent_decode(v))
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `GET /api/v1/Watch?site=`: the Manager's Watch stream as server-sent events (`change`
/// events with the Change as JSON; a `lagged` event when changes were missed, after which the
/// page lists again). It ends when the session does.
async fn watch(State(c): Shared_, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let Some((secret, s)) = c.session(&parts.headers) else {
        return unauthorized();
    };
    let site = query_param(&parts.uri, "site").unwrap_or_default();
    let tls = tls_of(&parts);
    let svc = ManagerService(c.shared.clone());
    let msg = otwatch_proto::v1::WatchRequest { site };
    let mut changes = match svc
        .watch(Console::request(&s.signed_in, tls.as_ref(), msg))
        .await
    {
        Ok(r) => r.into_inner(),
        Err(st) => return from_status(st),
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::convert::Infallible>>(64);
    let console = c.clone();
    tokio::spawn(async move {
        use tokio_stream::StreamExt;
        let _ = tx.send(Ok(Bytes::from_static(b"retry: 3000\n\n"))).await;
        let mut tick = tokio::time::interval(KEEPALIVE);
        tick.tick().await;
        loop {
            let event = tokio::select! {
                item = changes.next() => match item {
                    Some(Ok(change)) => match serde_json::to_string(&change) {
                        Ok(j) => format!("event: change\ndata: {j}\n\n"),
                        Err(_) => continue,
                    },
                    Some(Err(st)) => {
                        let j = serde_json::json!({ "message": st.message() });
                        format!("event: lagged\ndata: {j}\n\n")
                    }
                    None => return,
                },
                _ = tick.tick() => ": keepalive\n\n".to_string(),
                _ = tx.closed() => return,
            };
            if !console.sessions.alive(&secret) {
                let _ = tx
                    .send(Ok(Bytes::from_static(b"event: signed_out\ndata: {}\n\n")))
                    .await;
                return;
            }
            if tx.send(Ok(Bytes::from(event))).await.is_err() {
                return;
            }
        }
    });
    let body = Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx));
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

/// The Manager API in-process, on behalf of a session: the report's and the map's data come
/// through the same calls (and role checks) as any client's.
struct InProcess {
    svc: ManagerService,
    who: SignedIn,
    tls: Option<TlsConnectInfo<TcpConnectInfo>>,
}

impl report::Source for InProcess {
    async fn get_risk(&mut self, q: GetRiskRequest) -> Result<RiskAssessment, Status> {
        let r = Console::request(&self.who, self.tls.as_ref(), q);
        Ok(self.svc.get_risk(r).await?.into_inner())
    }
    async fn list_sites(&mut self, q: ListSitesRequest) -> Result<ListSitesResponse, Status> {
        let r = Console::request(&self.who, self.tls.as_ref(), q);
        Ok(self.svc.list_sites(r).await?.into_inner())
    }
    async fn list_assets(&mut self, q: ListAssetsRequest) -> Result<ListAssetsResponse, Status> {
        let r = Console::request(&self.who, self.tls.as_ref(), q);
        Ok(self.svc.list_assets(r).await?.into_inner())
    }
    async fn list_connections(
        &mut self,
        q: ListConnectionsRequest,
    ) -> Result<ListConnectionsResponse, Status> {
        let r = Console::request(&self.who, self.tls.as_ref(), q);
        Ok(self.svc.list_connections(r).await?.into_inner())
    }
}

impl InProcess {
    /// Every open alert of `site` (empty: all).
    async fn open_alerts(&mut self, site: &str) -> Result<Vec<FleetAlert>, Status> {
        let mut q = ListAlertsRequest {
            site: site.to_string(),
            state: otwatch_common::vocab::OPEN_ALERTS.into(),
            page_size: crate::api::MAX_PAGE as u32,
            ..Default::default()
        };
        let mut all = Vec::new();
        loop {
            let r = Console::request(&self.who, self.tls.as_ref(), q.clone());
            let page = self.svc.list_alerts(r).await?.into_inner();
            all.extend(page.alerts);
            if page.next_page_token.is_empty() {
                return Ok(all);
            }
            q.page_token = page.next_page_token;
        }
    }
}

/// The report's data for the request's `site`, gathered in-process for its session.
async fn gather(c: &Console, req: Request) -> Result<(report::model::Data, InProcess), Response> {
    let (parts, _) = req.into_parts();
    let Some((_, s)) = c.session(&parts.headers) else {
        return Err(unauthorized());
    };
    let site = query_param(&parts.uri, "site").unwrap_or_default();
    let mut src = InProcess {
        svc: ManagerService(c.shared.clone()),
        who: s.signed_in,
        tls: tls_of(&parts),
    };
    let now = crate::pki::rfc3339(crate::pki::now_secs());
    match report::gather(&mut src, site, now).await {
        Ok(d) => Ok((d, src)),
        Err(st) => Err(from_status(st)),
    }
}

/// `GET /api/map?site=`: every asset of the site (or fleet) and the conversations between
/// them, in one answer ([`map::Graph`]).
async fn map_data(State(c): Shared_, req: Request) -> Response {
    let started = std::time::Instant::now();
    let (data, mut src) = match gather(&c, req).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let gathered = started.elapsed();
    let open = match src.open_alerts(&data.site).await {
        Ok(a) => a,
        Err(st) => return from_status(st),
    };
    let graph = map::graph(&data, &open);
    let built = started.elapsed();
    let r = json_response(StatusCode::OK, &graph);
    tracing::debug!(
        nodes = graph.nodes.len(),
        edges = graph.edges.len(),
        gather_ms = gathered.as_millis() as u64,
        graph_ms = (built - gathered).as_millis() as u64,
        json_ms = (started.elapsed() - built).as_millis() as u64,
        "console map"
    );
    r
}

/// `GET /api/report?site=&format=html|json`: the risk report, as `otwatch report` writes it.
async fn report_download(State(c): Shared_, req: Request) -> Response {
    let format = query_param(req.uri(), "format").unwrap_or_else(|| "html".into());
    if !matches!(format.as_str(), "html" | "json") {
        return error(
            Code::InvalidArgument,
            format!("no report format {format:?}; use html or json (the PDF comes from `otwatch report --out FILE.pdf`)"),
        );
    }
    let (data, _) = match gather(&c, req).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let (bytes, ctype) = if format == "json" {
        match report::json::render(&data) {
            Ok(j) => (j.into_bytes(), "application/json; charset=utf-8"),
            Err(e) => return error(Code::Internal, e.to_string()),
        }
    } else {
        (
            report::html::render(&data).into_bytes(),
            "text/html; charset=utf-8",
        )
    };
    let scope = if data.site.is_empty() {
        "fleet"
    } else {
        &data.site
    };
    let day = data.generated_at.get(..10).unwrap_or("");
    let disposition = format!("attachment; filename=\"otwatch-risk-{scope}-{day}.{format}\"");
    let mut r = (StatusCode::OK, [(header::CONTENT_TYPE, ctype)], bytes).into_response();
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

/// Anything else: a gRPC call to an unknown service is told so the gRPC way; the rest is 404.
async fn fallback(method: Method, headers: HeaderMap) -> Response {
    let grpc = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"));
    if grpc && method == Method::POST {
        return Status::unimplemented("no such gRPC service or method").into_http();
    }
    (StatusCode::NOT_FOUND, "not found").into_response()
}

#[cfg(test)]
mod tests;
