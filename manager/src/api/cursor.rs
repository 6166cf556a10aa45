//! ListAssets page tokens: cursors that name where a page ended by the sort key, not by an
//! offset.
//!
//! Assets are listed in fleet id order (`<site>/<asset id>`: by site, then by id within the
//! site). A page's `next_page_token` names its last asset's fleet id, and the next page starts
//! with the first matching asset after that id (found by binary search in each site's view).
//! Assets inserted or removed between two calls therefore never make the next page skip or
//! repeat an asset that existed throughout, as an offset would.
//!
//! A token is `c1.<fingerprint>.<fleet id in hex>`: the fingerprint (64-bit FNV-1a over the
//! query's filters, as [`super::filters::assets`] spells them) ties it to the filters it was
//! issued for, so a token passed with other filters, from another call, or edited, is refused
//! with INVALID_ARGUMENT rather than silently listing something else. The page size may change
//! from one page to the next.

use otwatch_proto::v1::ListAssetsRequest;
use std::fmt::Write;
use tonic::Status;

/// The token format's version: the first field of every token.
const VERSION: &str = "c1";

/// The fingerprint of `q`'s filters (everything but the page size and token): FNV-1a 64 over
/// the fields, each followed by `0xFF` (never in UTF-8 text, so no two queries share a byte
/// string). Stable across processes and managers, unlike `std`'s hasher.
pub(super) fn fingerprint(q: &ListAssetsRequest) -> u64 {
    let level = q.purdue_level.map(|l| l.to_string()).unwrap_or_default();
    let fields = [
        q.site.as_str(),
        &q.device_type,
        &level,
        &q.protocol,
        &q.vendor,
        &q.text,
        if q.shadow { "shadow" } else { "" },
        &q.tag,
    ];
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for f in fields {
        for b in f.bytes().chain([0xFF]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// The token of a page whose last asset is `last` (a fleet id), for the query with
/// fingerprint `print`.
pub(super) fn token(print: u64, last: &str) -> String {
    let mut t = format!("{VERSION}.{print:016x}.");
    for b in last.bytes() {
        let _ = write!(t, "{b:02x}");
    }
    t
}

/// The fleet id after which the page asked for starts (`None`: the first page), or
/// INVALID_ARGUMENT saying what to do for a token that is not one of ours or was issued for
/// other filters.
pub(super) fn after(token: &str, print: u64) -> Result<Option<String>, Status> {
    if token.is_empty() {
        return Ok(None);
    }
    let malformed = || {
        Status::invalid_argument(
            "page_token is not a ListAssets page token (tokens of other calls, of older \
             managers or edited ones are not): pass the next_page_token of the previous \
             ListAssets answer, or no page_token to start from the first page",
        )
    };
    let mut fields = token.split('.');
    let (Some(VERSION), Some(p), Some(id), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(malformed());
    };
    let p = u64::from_str_radix(p, 16).map_err(|_| malformed())?;
    if id.is_empty() || id.len() % 2 != 0 {
        return Err(malformed());
    }
    let bytes = (0..id.len())
        .step_by(2)
        .map(|i| {
            id.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(malformed)?;
    let id = String::from_utf8(bytes).map_err(|_| malformed())?;
    if p != print {
        return Err(Status::invalid_argument(
            "page_token was issued for other filters: repeat the filters (site, device_type, \
             purdue_level, protocol, vendor, text, shadow, tag) of the call that returned it, \
             or pass no page_token to start from the first page",
        ));
    }
    Ok(Some(id))
}

/// The page token that makes ListAssets with the filters of `q` list the matching assets after
/// the fleet id `after` (`<site>/<asset id>`; it need not exist), as a client that wants to
/// resume a listing at a known asset would build it. INVALID_ARGUMENT for filters ListAssets
/// would refuse.
pub fn assets_page_token(q: &ListAssetsRequest, after: &str) -> Result<String, Status> {
    let mut q = q.clone();
    super::filters::assets(&mut q)?;
    Ok(token(fingerprint(&q), after))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn tokens_round_trip_and_refuse_what_is_not_theirs() {
        let q = ListAssetsRequest {
            vendor: "siemens".into(),
            ..Default::default()
        };
        let print = fingerprint(&q);
        for id in ["a/mac:02:00:00:00:00:01", "plant é/x.y", "s/"] {
            let t = token(print, id);
            assert_eq!(after(&t, print).unwrap().as_deref(), Some(id));
        }
        assert_eq!(after("", print).unwrap(), None);
        // Other filters, offsets of older managers, edits: INVALID_ARGUMENT saying what to do.
        let other = fingerprint(&ListAssetsRequest {
            vendor: "siemens".into(),
            shadow: true,
            ..Default::default()
        });
        assert_ne!(other, print);
        let t = token(print, "a/b");
        let e = after(&t, other).unwrap_err();
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
            let e = after(bad, print).unwrap_err();
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
    }
}
