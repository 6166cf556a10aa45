//! Page tokens of ListAssets, ListAlerts, ListConnections and ListAdvisories: cursors that name
//! where a page ended by the sort key, not by an offset.
//!
//! Assets are listed in fleet id order (`<site>/<asset id>`: by site, then by id within the
//! site), alerts by site then id, connections by site then [`crate::fleet::ConnectionKey`],
//! advisories by id. A page's `next_page_token` names its last item's key, and the
//! next page starts with the first matching item after that key (for assets, found by binary
//! search in each site's view). Items inserted or removed between two calls therefore never
//! make the next page skip or repeat an item that existed throughout, as an offset would.
//!
//! A token is `c1.<fingerprint>.<key field in hex>[.<key field in hex>...]`: the fingerprint
//! (64-bit FNV-1a over the call's name and filters, as the `filters` module spells them) ties
//! it to the call and filters it was issued for, so a token passed with other filters, to
//! another call, or edited, is refused with INVALID_ARGUMENT rather than silently listing
//! something else. The page size may change from one page to the next.

use crate::fleet::ConnectionKey;
use otwatch_proto::v1::{
    ListAdvisoriesRequest, ListAlertsRequest, ListAssetsRequest, ListConnectionsRequest,
};
use std::fmt::Write;
use tonic::Status;

/// The token format's version: the first field of every token.
const VERSION: &str = "c1";

/// The fingerprint of a call's filters: FNV-1a 64 over the call's name and the filters' values,
/// each followed by `0xFF` (never in UTF-8 text, so no two queries share a byte string). Stable
/// across processes and managers, unlike `std`'s hasher.
fn fingerprint_of(call: &str, fields: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for f in std::iter::once(call).chain(fields.iter().copied()) {
        for b in f.bytes().chain([0xFF]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// The fingerprint of a ListAssets query (everything but the page size and token).
pub(super) fn fingerprint(q: &ListAssetsRequest) -> u64 {
    let level = q.purdue_level.map(|l| l.to_string()).unwrap_or_default();
    fingerprint_of(
        "ListAssets",
        &[
            q.site.as_str(),
            &q.device_type,
            &level,
            &q.protocol,
            &q.vendor,
            &q.text,
            if q.shadow { "shadow" } else { "" },
            &q.tag,
        ],
    )
}

/// The fingerprint of a ListAlerts query (everything but the page size and token).
pub(super) fn alerts_fingerprint(q: &ListAlertsRequest) -> u64 {
    fingerprint_of(
        "ListAlerts",
        &[&q.site, &q.state, &q.severity, &q.kind, &q.asset],
    )
}

/// The fingerprint of a ListConnections query (everything but the page size and token).
pub(super) fn connections_fingerprint(q: &ListConnectionsRequest) -> u64 {
    fingerprint_of("ListConnections", &[&q.site, &q.address])
}

/// The fingerprint of a ListAdvisories query (everything but the page size and token).
pub(super) fn advisories_fingerprint(q: &ListAdvisoriesRequest) -> u64 {
    fingerprint_of("ListAdvisories", &[&q.text])
}

/// The advisory id after which a ListAdvisories page starts (see [`after`]).
pub(super) fn advisories_after(token: &str, print: u64) -> Result<Option<String>, Status> {
    Ok(after(token, print, 1, "ListAdvisories", "text")?.and_then(|k| k.into_iter().next()))
}

/// The token of a page of connections whose last one is `(site, key)`.
pub(super) fn connections_token(print: u64, site: &str, key: &ConnectionKey) -> String {
    let (port, vlan, segment) = (key.3.to_string(), key.4.to_string(), key.5.to_string());
    token(
        print,
        &[site, &key.0, &key.1, &key.2, &port, &vlan, &segment, &key.6],
    )
}

/// The token of a page whose last item has the sort key `last`, for the query with
/// fingerprint `print`.
pub(super) fn token(print: u64, last: &[&str]) -> String {
    let mut t = format!("{VERSION}.{print:016x}");
    for field in last {
        t.push('.');
        for b in field.bytes() {
            let _ = write!(t, "{b:02x}");
        }
    }
    t
}

/// The sort key (`fields` strings) after which the page asked for starts (`None`: the first
/// page), or INVALID_ARGUMENT saying what to do for a token that is not one of `call`'s or was
/// issued for other filters (`filters`: their names).
pub(super) fn after(
    token: &str,
    print: u64,
    fields: usize,
    call: &str,
    filters: &str,
) -> Result<Option<Vec<String>>, Status> {
    if token.is_empty() {
        return Ok(None);
    }
    let malformed = || malformed(call);
    let mut parts = token.split('.');
    if parts.next() != Some(VERSION) {
        return Err(malformed());
    }
    let p = parts
        .next()
        .and_then(|p| u64::from_str_radix(p, 16).ok())
        .ok_or_else(malformed)?;
    let key = parts.map(unhex).collect::<Option<Vec<String>>>();
    let key = key
        .filter(|k| k.len() == fields && k.iter().any(|f| !f.is_empty()))
        .ok_or_else(malformed)?;
    if p != print {
        return Err(Status::invalid_argument(format!(
            "page_token was issued for other filters: repeat the filters ({filters}) of the \
             {call} call that returned it, or pass no page_token to start from the first page"
        )));
    }
    Ok(Some(key))
}

/// INVALID_ARGUMENT for a token that is not one of `call`'s, saying what to pass.
fn malformed(call: &str) -> Status {
    Status::invalid_argument(format!(
        "page_token is not a {call} page token (tokens of other calls, of older managers or \
         edited ones are not): pass the next_page_token of the previous {call} answer, or no \
         page_token to start from the first page"
    ))
}

/// `hex` decoded as UTF-8 text.
fn unhex(hex: &str) -> Option<String> {
    if hex.len() % 2 != 0 {
        return None;
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()?;
    String::from_utf8(bytes).ok()
}

/// The fleet id after which a ListAssets page starts (see [`after`]).
pub(super) fn assets_after(token: &str, print: u64) -> Result<Option<String>, Status> {
    Ok(after(
        token,
        print,
        1,
        "ListAssets",
        "site, device_type, purdue_level, protocol, vendor, text, shadow, tag",
    )?
    .and_then(|k| k.into_iter().next()))
}

/// The (site, alert id) after which a ListAlerts page starts (see [`after`]).
pub(super) fn alerts_after(token: &str, print: u64) -> Result<Option<(String, String)>, Status> {
    Ok(after(
        token,
        print,
        2,
        "ListAlerts",
        "site, state, severity, kind, asset",
    )?
    .map(|mut k| {
        let id = k.pop().unwrap_or_default();
        (k.pop().unwrap_or_default(), id)
    }))
}

/// The (site, connection key) after which a ListConnections page starts (see [`after`]).
pub(super) fn connections_after(
    token: &str,
    print: u64,
) -> Result<Option<(String, ConnectionKey)>, Status> {
    const CALL: &str = "ListConnections";
    let Some(k) = after(token, print, 8, CALL, "site, address")? else {
        return Ok(None);
    };
    let [site, client, server, transport, port, vlan, segment, sensor]: [String; 8] =
        k.try_into().map_err(|_| malformed(CALL))?;
    let num = |s: &str| s.parse::<u32>().map_err(|_| malformed(CALL));
    let key = (
        client,
        server,
        transport,
        num(&port)?,
        num(&vlan)?,
        num(&segment)?,
        sensor,
    );
    Ok(Some((site, key)))
}

/// The page token that makes ListAssets with the filters of `q` list the matching assets after
/// the fleet id `after` (`<site>/<asset id>`; it need not exist), as a client that wants to
/// resume a listing at a known asset would build it. INVALID_ARGUMENT for filters ListAssets
/// would refuse.
pub fn assets_page_token(q: &ListAssetsRequest, after: &str) -> Result<String, Status> {
    let mut q = q.clone();
    super::filters::assets(&mut q)?;
    Ok(token(fingerprint(&q), &[after]))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn connection_tokens_round_trip_and_refuse_a_key_that_is_not_one() {
        let q = ListConnectionsRequest {
            address: "10.0.0.1".into(),
            ..Default::default()
        };
        let print = connections_fingerprint(&q);
        let key: ConnectionKey = (
            "10.0.0.1".into(),
            "10.0.0.2".into(),
            "tcp".into(),
            502,
            7,
            2,
            "s-1".into(),
        );
        let t = connections_token(print, "plant", &key);
        assert_eq!(
            connections_after(&t, print).unwrap(),
            Some(("plant".into(), key))
        );
        // A port that is not a number; too few fields; a ListAssets token.
        let e = token(print, &["p", "a", "b", "tcp", "x", "0", "0", ""]);
        let short = token(print, &["p", "a"]);
        let assets = token(fingerprint(&ListAssetsRequest::default()), &["p/a"]);
        for bad in [e, short, assets] {
            let e = connections_after(&bad, print).unwrap_err();
            assert!(
                e.message().contains("not a ListConnections page token"),
                "{bad}"
            );
        }
    }

    #[test]
    fn tokens_round_trip_and_refuse_what_is_not_theirs() {
        let q = ListAssetsRequest {
            vendor: "siemens".into(),
            ..Default::default()
        };
        let print = fingerprint(&q);
        for id in ["a/mac:02:00:00:00:00:01", "plant é/x.y", "s/"] {
            let t = token(print, &[id]);
            assert_eq!(assets_after(&t, print).unwrap().as_deref(), Some(id));
        }
        assert_eq!(assets_after("", print).unwrap(), None);
        // Other filters, offsets of older managers, edits: INVALID_ARGUMENT saying what to do.
        let other = fingerprint(&ListAssetsRequest {
            vendor: "siemens".into(),
            shadow: true,
            ..Default::default()
        });
        assert_ne!(other, print);
        let t = token(print, &["a/b"]);
        let e = assets_after(&t, other).unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument);
        assert!(e.message().contains("other filters"), "{}", e.message());
        for bad in [
            "100",
            "c1",
            "c1.xyz.6162",
            &format!("c1.{print:016x}.616"),
            &format!("c1.{print:016x}.zz"),
            &format!("c1.{print:016x}."),
            &format!("c1.{print:016x}.ff"),
            &format!("c2.{print:016x}.6162"),
            &format!("{t}.00"),
        ] {
            let e = assets_after(bad, print).unwrap_err();
            assert_eq!(e.code(), tonic::Code::InvalidArgument, "{bad}");
            assert!(e.message().contains("next_page_token"), "{bad}");
        }
        // A field's end is part of the fingerprint: moving text between fields changes it.
        let a = fingerprint(&ListAssetsRequest {
            vendor: "ab".into(),
            ..Default::default()
        });
        let b = fingerprint(&ListAssetsRequest {
            vendor: "a".into(),
            text: "b".into(),
            ..Default::default()
        });
        assert_ne!(a, b);

        // ListAlerts: two key fields, and its tokens are not ListAssets' (nor the reverse).
        let aq = ListAlertsRequest {
            state: "open".into(),
            ..Default::default()
        };
        let ap = alerts_fingerprint(&aq);
        let at = token(ap, &["plant-a", "s-1/a1"]);
        assert_eq!(
            alerts_after(&at, ap).unwrap(),
            Some(("plant-a".to_string(), "s-1/a1".to_string()))
        );
        assert!(assets_after(&at, print).is_err());
        assert!(alerts_after(&t, ap).is_err());
        let asset_print = fingerprint(&ListAssetsRequest::default());
        assert_ne!(
            asset_print,
            alerts_fingerprint(&ListAlertsRequest::default())
        );
    }
}
