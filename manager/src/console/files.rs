//! The console's front end, built from `manager/console` (TypeScript, `npm run build`) into
//! `manager/console/dist`, which is committed and embedded here: the manager stays one file and
//! building it needs no Node.js.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

/// Who may fetch a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// The login page's own files.
    Public,
    /// The app: only with a session.
    SignedIn,
}

/// (name, who may fetch it, content type, bytes).
const FILES: &[(&str, Access, &str, &[u8])] = &[
    (
        "login.html",
        Access::Public,
        "text/html; charset=utf-8",
        include_bytes!("../../console/dist/login.html"),
    ),
    (
        "login.js",
        Access::Public,
        "text/javascript; charset=utf-8",
        include_bytes!("../../console/dist/login.js"),
    ),
    (
        "console.css",
        Access::Public,
        "text/css; charset=utf-8",
        include_bytes!("../../console/dist/console.css"),
    ),
    (
        "index.html",
        Access::SignedIn,
        "text/html; charset=utf-8",
        include_bytes!("../../console/dist/index.html"),
    ),
    (
        "app.js",
        Access::SignedIn,
        "text/javascript; charset=utf-8",
        include_bytes!("../../console/dist/app.js"),
    ),
    (
        "app.css",
        Access::SignedIn,
        "text/css; charset=utf-8",
        include_bytes!("../../console/dist/app.css"),
    ),
];

/// The app's pages (client-side routes): each serves `index.html` to a session.
pub const APP_PAGES: &[&str] = &[
    "/",
    "/map",
    "/assets",
    "/assets/{*id}",
    "/alerts",
    "/alerts/{*id}",
    "/sensors",
    "/risk",
];

/// Who may fetch the file `name` under `/static/` (None: there is no such file; the HTML pages
/// are served at their routes, not there).
pub fn access(name: &str) -> Option<Access> {
    FILES
        .iter()
        .find(|(n, ..)| *n == name && !n.ends_with(".html"))
        .map(|(_, a, ..)| *a)
}

/// The file `name`, with its content type; the browser revalidates it each time (no-cache),
/// so a new manager's front end is picked up at once.
pub fn serve(name: &str) -> Response {
    match FILES.iter().find(|(n, ..)| *n == name) {
        Some((_, _, ctype, bytes)) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, *ctype),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            *bytes,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}
