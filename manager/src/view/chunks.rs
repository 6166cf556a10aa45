//! A site's merged assets in id order, kept in chunks that snapshots share, with compact filter
//! columns per chunk so that ListAssets filters and text searches scan a few bytes per asset
//! instead of following each asset's strings.
//!
//! [`Assets`] is the writer's side: chunks of at most [`MAX_CHUNK`] assets, in id order, each
//! behind an `Arc`. A change copies only the chunk it touches if a snapshot still shares it
//! (copy on write), and marks it dirty; publishing ([`Assets::publish`]) rebuilds the columns of
//! the dirty chunks only and hands out the list of chunk pointers, so a snapshot costs about one
//! pointer per [`MAX_CHUNK`] assets plus the columns of what changed since the last one.
//!
//! A chunk's columns, derived from its assets only:
//! - one [`Key`] per asset: device type and each protocol as positions in the closed
//!   vocabularies ([`vocab::DEVICE_TYPES`], [`vocab::PROTOCOLS`]; protocols as a bit set),
//!   Purdue level, and the asset's vendor as an index into the chunk's distinct vendors;
//! - the distinct vendors, ASCII-lowercased (a vendor filter is checked once per distinct
//!   vendor, then by index);
//! - one text "haystack" for the whole chunk: each asset's searchable fields (IPs, MACs, names,
//!   hostname, vendor, model) ASCII-lowercased, each field followed by `0xFF` (a byte no UTF-8
//!   text holds, so no match spans two fields), assets one after the other; a text search is one
//!   `memmem` pass over it.
//!
//! Matching is exactly [`crate::api`]'s `AssetFilter::matches` (the brute-force definition):
//! the query's text and vendor are lowercased (Unicode) and compared with the fields ignoring
//! ASCII case, which is the same as finding them in the ASCII-lowercased fields.

use memchr::memmem::Finder;
use otwatch_common::vocab;
use otwatch_proto::v1::{Asset, FleetAsset};
use prost::Message;
use std::sync::Arc;

/// A merged asset as the view keeps it: its protobuf encoding, shared by the snapshots that hold
/// it. The encoding takes about a fifth of the decoded `FleetAsset`'s memory (its structs and one
/// allocation per string and list); only the assets of a page being served are decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored(Arc<[u8]>);

impl Stored {
    /// `fa`, encoded.
    pub fn of(fa: &FleetAsset) -> Stored {
        Stored(fa.encode_to_vec().into())
    }

    /// The asset's fleet id, read from the encoding without decoding the rest: protobuf
    /// encoders write fields in field number order, so a non-empty id (field 1, length-delimited:
    /// key byte `0x0A`) comes first.
    pub fn id(&self) -> &str {
        let b = &self.0[..];
        if b.first() != Some(&0x0A) {
            return "";
        }
        let mut rest = &b[1..];
        let Ok(n) = prost::encoding::decode_varint(&mut rest) else {
            return "";
        };
        rest.get(..n as usize)
            .and_then(|s| std::str::from_utf8(s).ok())
            .unwrap_or("")
    }

    /// The asset (decoding what [`Stored::of`] encoded cannot fail; were it to, the asset would
    /// read as empty rather than stop the listing).
    pub fn decode(&self) -> FleetAsset {
        FleetAsset::decode(&*self.0).unwrap_or_default()
    }

    /// The merged asset's asset details (field 3), decoded without the rest (what the filter
    /// columns are derived from).
    fn asset(&self) -> Option<Asset> {
        fields(&self.0)
            .find(|(tag, _)| *tag == 3)
            .and_then(|(_, value)| Asset::decode(value?).ok())
    }

    /// How many sensors' assets it merges (its `seen_by`, field 4), counted in the encoding
    /// without decoding it.
    pub fn parts(&self) -> usize {
        fields(&self.0).filter(|(tag, _)| *tag == 4).count()
    }

    /// The encoding's size in bytes.
    pub fn encoded_len(&self) -> usize {
        self.0.len()
    }
}

/// The top-level fields of a protobuf encoding, in order: each field's number and, for a
/// length-delimited field, its bytes (`None` for the other wire types). Stops at the first
/// malformed or truncated field.
fn fields(mut rest: &[u8]) -> impl Iterator<Item = (u32, Option<&[u8]>)> {
    use prost::encoding::{decode_key, decode_varint, WireType};
    std::iter::from_fn(move || {
        let (tag, wire) = decode_key(&mut rest).ok()?;
        let (skip, delimited) = match wire {
            WireType::Varint => (decode_varint(&mut rest).map(|_| 0).ok()?, false),
            WireType::LengthDelimited => {
                (usize::try_from(decode_varint(&mut rest).ok()?).ok()?, true)
            }
            WireType::SixtyFourBit => (8, false),
            WireType::ThirtyTwoBit => (4, false),
            WireType::StartGroup | WireType::EndGroup => return None,
        };
        let value = rest.get(..skip)?;
        rest = &rest[skip..];
        Some((tag, delimited.then_some(value)))
    })
}

/// The most assets one chunk holds; a chunk that grows past it is split in two halves.
pub const MAX_CHUNK: usize = 512;
/// A chunk this small is joined with its next neighbour when both fit in one.
const MIN_CHUNK: usize = MAX_CHUNK / 8;
/// Separates fields in a haystack: never in UTF-8 text.
const SEP: u8 = 0xFF;
/// [`Key::device_type`] of a device type outside the vocabulary, and [`Key::level`] of none.
const NONE: u8 = u8::MAX;
/// [`Key::level`] of this level or more (none exist: levels are 0 to 5); a filter on such a
/// level compares the assets themselves.
const LEVEL_CAP: u8 = NONE - 1;

/// What the list filters compare, for one asset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Key {
    /// The asset has asset details (a merged asset always does; without, nothing matches).
    present: bool,
    /// Position in [`vocab::DEVICE_TYPES`], or [`NONE`].
    device_type: u8,
    /// The Purdue level ([`LEVEL_CAP`]: that or more; [`NONE`]: none).
    level: u8,
    /// Bit `i`: a protocol named `vocab::PROTOCOLS[i]` (the first 64 names).
    protocols: u64,
    /// Index into [`Columns::vendors`].
    vendor: u16,
}

/// The filter columns of one chunk (see the module notes).
#[derive(Clone, Debug, Default)]
struct Columns {
    keys: Vec<Key>,
    vendors: Vec<Box<str>>,
    hay: Vec<u8>,
    /// Where each asset's part of `hay` ends.
    ends: Vec<u32>,
}

fn position(list: &[&str], value: &str) -> Option<usize> {
    list.iter().position(|v| *v == value)
}

impl Columns {
    fn of(assets: &[Stored]) -> Columns {
        let mut c = Columns {
            keys: Vec::with_capacity(assets.len()),
            ends: Vec::with_capacity(assets.len()),
            ..Default::default()
        };
        for s in assets {
            let Some(a) = &s.asset() else {
                c.keys.push(Key::default());
                c.ends.push(c.hay.len() as u32);
                continue;
            };
            let vendor = a.vendor.to_ascii_lowercase();
            let vendor = match c.vendors.iter().position(|v| **v == *vendor) {
                Some(i) => i,
                None => {
                    c.vendors.push(vendor.into());
                    c.vendors.len() - 1
                }
            };
            let mut protocols = 0u64;
            for p in &a.protocols {
                if let Some(i) = position(vocab::PROTOCOLS, &p.name).filter(|i| *i < 64) {
                    protocols |= 1 << i;
                }
            }
            c.keys.push(Key {
                present: true,
                device_type: position(vocab::DEVICE_TYPES, &a.device_type)
                    .map_or(NONE, |i| i as u8),
                level: a
                    .purdue_level
                    .map_or(NONE, |l| l.min(u32::from(LEVEL_CAP)) as u8),
                protocols,
                vendor: vendor as u16,
            });
            for s in a.ips.iter().chain(&a.macs).chain(&a.names).chain([
                &a.hostname,
                &a.vendor,
                &a.model,
            ]) {
                c.hay.extend(s.bytes().map(|b| b.to_ascii_lowercase()));
                c.hay.push(SEP);
            }
            c.ends.push(c.hay.len() as u32);
        }
        c
    }
}

/// Up to [`MAX_CHUNK`] merged assets in id order, and their columns.
#[derive(Clone, Debug, Default)]
pub struct Chunk {
    assets: Vec<Stored>,
    columns: Columns,
    /// `assets` changed since `columns` were derived.
    dirty: bool,
}

impl Chunk {
    fn first_id(&self) -> &str {
        self.assets.first().map_or("", Stored::id)
    }

    fn find(&self, id: &str) -> Result<usize, usize> {
        self.assets.binary_search_by(|a| a.id().cmp(id))
    }
}

/// The writer's side: a site's merged assets by id (see the module notes).
#[derive(Default)]
pub struct Assets {
    /// In id order, none empty.
    chunks: Vec<Arc<Chunk>>,
}

impl Assets {
    /// The chunk where `id` is or would go.
    fn chunk_for(&self, id: &str) -> usize {
        self.chunks
            .partition_point(|c| c.first_id() <= id)
            .saturating_sub(1)
    }

    /// The asset `id`.
    pub fn get(&self, id: &str) -> Option<&Stored> {
        let c = self.chunks.get(self.chunk_for(id))?;
        c.find(id).ok().map(|i| &c.assets[i])
    }

    /// Adds `fa`, or replaces the asset with its id.
    pub fn insert(&mut self, fa: Stored) {
        if self.chunks.is_empty() {
            self.chunks.push(Arc::default());
        }
        let at = self.chunk_for(fa.id());
        let c = Arc::make_mut(&mut self.chunks[at]);
        c.dirty = true;
        match c.find(fa.id()) {
            Ok(i) => c.assets[i] = fa,
            Err(i) => c.assets.insert(i, fa),
        }
        if c.assets.len() > MAX_CHUNK {
            let upper = Chunk {
                assets: c.assets.split_off(c.assets.len() / 2),
                columns: Columns::default(),
                dirty: true,
            };
            self.chunks.insert(at + 1, Arc::new(upper));
        }
    }

    /// Removes the asset `id`; returns it if it was there.
    pub fn remove(&mut self, id: &str) -> Option<Stored> {
        let at = self.chunk_for(id);
        let i = self.chunks.get(at)?.find(id).ok()?;
        let c = Arc::make_mut(&mut self.chunks[at]);
        c.dirty = true;
        let fa = c.assets.remove(i);
        let n = c.assets.len();
        if n == 0 {
            self.chunks.remove(at);
        } else if n < MIN_CHUNK
            && self
                .chunks
                .get(at + 1)
                .is_some_and(|next| n + next.assets.len() <= MAX_CHUNK)
        {
            let next = self.chunks.remove(at + 1);
            let c = Arc::make_mut(&mut self.chunks[at]);
            c.assets.extend(next.assets.iter().cloned());
        }
        Some(fa)
    }

    /// The assets in id order.
    pub fn iter(&self) -> impl Iterator<Item = &Stored> {
        self.chunks.iter().flat_map(|c| c.assets.iter())
    }

    /// Derives the columns of the chunks that changed, and returns a snapshot of everything.
    pub fn publish(&mut self) -> SiteAssets {
        let mut starts = Vec::with_capacity(self.chunks.len());
        let mut n = 0;
        for c in &mut self.chunks {
            if c.dirty {
                let c = Arc::make_mut(c);
                c.columns = Columns::of(&c.assets);
                c.dirty = false;
            }
            starts.push(n);
            n += c.assets.len();
        }
        SiteAssets {
            chunks: self.chunks.clone(),
            starts,
            len: n,
        }
    }
}

/// One site's merged assets in id order, as of one moment (what readers share).
#[derive(Clone, Debug, Default)]
pub struct SiteAssets {
    chunks: Vec<Arc<Chunk>>,
    /// The position of each chunk's first asset.
    starts: Vec<usize>,
    len: usize,
}

impl FromIterator<Arc<FleetAsset>> for SiteAssets {
    /// Assets with distinct ids, put in id order (for sites built by hand: tests).
    fn from_iter<I: IntoIterator<Item = Arc<FleetAsset>>>(assets: I) -> SiteAssets {
        let mut all = Assets::default();
        for fa in assets {
            all.insert(Stored::of(&fa));
        }
        all.publish()
    }
}

impl From<Vec<Arc<FleetAsset>>> for SiteAssets {
    fn from(assets: Vec<Arc<FleetAsset>>) -> SiteAssets {
        assets.into_iter().collect()
    }
}

impl SiteAssets {
    /// How many assets.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The assets in id order.
    pub fn iter(&self) -> impl Iterator<Item = &Stored> {
        self.chunks.iter().flat_map(|c| c.assets.iter())
    }

    /// How many assets have an id up to `id` (included): the position where the assets after
    /// `id` start, found by binary search.
    pub fn after(&self, id: &str) -> usize {
        let at = self.chunks.partition_point(|c| c.first_id() <= id);
        let Some(c) = at.checked_sub(1) else {
            return 0;
        };
        self.starts[c] + self.chunks[c].assets.partition_point(|a| a.id() <= id)
    }

    /// The asset `id`.
    pub fn find(&self, id: &str) -> Option<&Stored> {
        let at = self
            .chunks
            .partition_point(|c| c.first_id() <= id)
            .checked_sub(1)?;
        let c = &self.chunks[at];
        c.find(id).ok().map(|i| &c.assets[i])
    }

    /// The assets at positions `lo..hi` (clamped to what there is), in id order.
    pub fn range(&self, lo: usize, hi: usize) -> impl Iterator<Item = &Stored> {
        let hi = hi.min(self.len);
        let lo = lo.min(hi);
        let first = self.starts.partition_point(|s| *s <= lo).saturating_sub(1);
        let skip = lo - self.starts.get(first).copied().unwrap_or(0);
        self.chunks
            .get(first..)
            .unwrap_or(&[])
            .iter()
            .flat_map(|c| c.assets.iter())
            .skip(skip)
            .take(hi - lo)
    }

    /// Calls `each` with every asset that `q` matches and its position in the site (as
    /// [`SiteAssets::range`] and [`SiteAssets::after`] count), in id order; `extra` is checked
    /// last, on the assets the columns let through (what they do not hold, such as approvals).
    pub fn matching<'s>(
        &'s self,
        q: &Query,
        extra: impl Fn(&Stored) -> bool,
        mut each: impl FnMut(usize, &'s Stored),
    ) {
        let mut hits: Vec<u32> = Vec::new();
        let mut vendor_ok: Vec<bool> = Vec::new();
        for (c, &start) in self.chunks.iter().zip(&self.starts) {
            let cols = &c.columns;
            vendor_ok.clear();
            vendor_ok.extend(cols.vendors.iter().map(|v| {
                q.vendor
                    .as_ref()
                    .is_none_or(|f| f.find(v.as_bytes()).is_some())
            }));
            let key_ok = |i: usize| {
                let k = cols.keys[i];
                k.present
                    && q.device_type.is_none_or(|d| k.device_type == d)
                    && q.level.is_none_or(|l| k.level == l)
                    && (q.protocols & !k.protocols) == 0
                    && vendor_ok.get(k.vendor as usize).copied().unwrap_or(false)
                    && extra(&c.assets[i])
            };
            match &q.text {
                None => {
                    for (i, fa) in c.assets.iter().enumerate() {
                        if key_ok(i) {
                            each(start + i, fa);
                        }
                    }
                }
                Some(t) => {
                    // The assets whose part of the haystack holds the text, each once.
                    hits.clear();
                    let mut from = 0usize;
                    while let Some(at) = t.find(&cols.hay[from..]) {
                        let pos = (from + at) as u32;
                        let i = cols.ends.partition_point(|e| *e <= pos);
                        hits.push(i as u32);
                        from = cols.ends.get(i).map_or(cols.hay.len(), |e| *e as usize);
                    }
                    for &i in &hits {
                        if key_ok(i as usize) {
                            each(start + i as usize, &c.assets[i as usize]);
                        }
                    }
                }
            }
        }
    }
}

/// The part of a ListAssets query that the columns answer, prepared once per call.
pub struct Query {
    device_type: Option<u8>,
    level: Option<u8>,
    /// Every protocol bit that must be set.
    protocols: u64,
    vendor: Option<Finder<'static>>,
    text: Option<Finder<'static>>,
}

/// A needle for comparison with ASCII-lowercased fields: `s` lowercased (see the module notes);
/// `None` for an empty one (no filter).
fn needle(s: &str) -> Option<Finder<'static>> {
    let s = s.to_lowercase();
    (!s.is_empty()).then(|| Finder::new(s.as_bytes()).into_owned())
}

impl Query {
    /// The columns' form of the filters device type, Purdue level, protocol, vendor and text
    /// (empty: not filtered); `None` when a value cannot be expressed in the columns (a device
    /// type or protocol outside the vocabulary, a level of [`LEVEL_CAP`] or more), for the
    /// caller to compare the assets themselves.
    pub fn new(
        device_type: &str,
        level: Option<u32>,
        protocol: &str,
        vendor: &str,
        text: &str,
    ) -> Option<Query> {
        let device_type = match device_type {
            "" => None,
            d => Some(position(vocab::DEVICE_TYPES, d)? as u8),
        };
        let level = match level {
            None => None,
            Some(l) if l < u32::from(LEVEL_CAP) => Some(l as u8),
            Some(_) => return None,
        };
        let protocols = match protocol {
            "" => 0,
            p => 1u64 << position(vocab::PROTOCOLS, p).filter(|i| *i < 64)?,
        };
        Some(Query {
            device_type,
            level,
            protocols,
            vendor: needle(vendor),
            text: needle(text),
        })
    }
}

#[cfg(test)]
pub(super) mod tests;
