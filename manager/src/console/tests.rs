use super::*;
use axum::http::HeaderValue;

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(*k, HeaderValue::from_str(v).unwrap());
    }
    h
}

#[test]
fn the_session_cookie_is_found_among_others() {
    let h = headers(&[
        ("cookie", "a=1; __Host-otwatch_session=abc; b=2"),
        ("cookie", "c=3"),
    ]);
    assert_eq!(cookie(&h, COOKIE), Some("abc"));
    assert_eq!(cookie(&h, "c"), Some("3"));
    assert_eq!(cookie(&h, "otwatch_session"), None);
    assert_eq!(cookie(&HeaderMap::new(), COOKIE), None);
}

#[test]
fn cross_site_requests_are_told_apart() {
    assert!(
        !cross_site(&HeaderMap::new()),
        "a client that says nothing (curl)"
    );
    assert!(!cross_site(&headers(&[("sec-fetch-site", "same-origin")])));
    assert!(cross_site(&headers(&[("sec-fetch-site", "cross-site")])));
    assert!(cross_site(&headers(&[("sec-fetch-site", "same-site")])));
    let own = [("host", "mgr:7443"), ("origin", "https://mgr:7443")];
    assert!(!cross_site(&headers(&own)));
    assert!(cross_site(&headers(&[
        ("host", "mgr:7443"),
        ("origin", "https://evil.example")
    ])));
    assert!(cross_site(&headers(&[
        ("host", "mgr:7443"),
        ("origin", "http://mgr:7443")
    ])));
    assert!(cross_site(&headers(&[("origin", "https://mgr:7443")])));
}

#[test]
fn changes_need_json_and_the_session_csrf_token() {
    let s = Sessions::default();
    let who = SignedIn {
        identity: Identity::Operator {
            name: "ana".into(),
            role: otwatch_common::link::OperatorRole::Analyst,
        },
        issued_at: 0,
        expires_at: i64::MAX,
    };
    let o = s.open(who).unwrap();
    let json = ("content-type", "application/json");
    let ok = headers(&[json, ("x-csrf-token", &o.session.csrf)]);
    assert!(forged(&ok, Some(&o.session)).is_none());
    let code = |h: &HeaderMap| forged(h, Some(&o.session)).map(|r| r.status());
    assert_eq!(code(&headers(&[json])), Some(StatusCode::FORBIDDEN));
    assert_eq!(
        code(&headers(&[json, ("x-csrf-token", &o.secret)])),
        Some(StatusCode::FORBIDDEN)
    );
    assert_eq!(
        code(&headers(&[
            ("content-type", "text/plain"),
            ("x-csrf-token", &o.session.csrf)
        ])),
        Some(StatusCode::BAD_REQUEST)
    );
    assert_eq!(
        code(&headers(&[
            json,
            ("x-csrf-token", &o.session.csrf),
            ("sec-fetch-site", "cross-site")
        ])),
        Some(StatusCode::FORBIDDEN)
    );
    // Sign-in has no session yet: JSON and same-site only.
    assert!(forged(
        &headers(&[("content-type", "application/json; charset=utf-8")]),
        None
    )
    .is_none());
}

#[test]
fn query_parameters_are_decoded() {
    let uri: axum::http::Uri = "/api/map?x=1&site=plant%2Da&empty&q=a+b".parse().unwrap();
    assert_eq!(query_param(&uri, "site").as_deref(), Some("plant-a"));
    assert_eq!(query_param(&uri, "q").as_deref(), Some("a b"));
    assert_eq!(query_param(&uri, "empty").as_deref(), Some(""));
    assert_eq!(query_param(&uri, "none"), None);
    assert_eq!(percent_decode("100%"), "100%");
    assert_eq!(percent_decode("%zz%4"), "%zz%4");
}

#[test]
fn grpc_codes_become_http_statuses() {
    assert_eq!(
        http_of(Code::PermissionDenied),
        (StatusCode::FORBIDDEN, "permission_denied")
    );
    assert_eq!(http_of(Code::Unauthenticated).0, StatusCode::UNAUTHORIZED);
    assert_eq!(http_of(Code::NotFound).0, StatusCode::NOT_FOUND);
    assert_eq!(http_of(Code::InvalidArgument).0, StatusCode::BAD_REQUEST);
    assert_eq!(
        http_of(Code::Unavailable).0,
        StatusCode::SERVICE_UNAVAILABLE
    );
}

#[test]
fn the_policy_allows_no_inline_script_or_style() {
    assert!(!CSP.contains("unsafe-inline"));
    assert!(!CSP.contains("unsafe-eval"));
    assert!(CSP.contains("script-src 'self';"));
    assert!(CSP.contains("frame-ancestors 'none'"));
}
