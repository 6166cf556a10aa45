//! OPC UA method calls (OPC 10000-4 §5.11.2 Call) and the names that say what a method does.
//!
//! A CallRequest names each method by NodeId only. A String NodeId usually is the name
//! (`ns=2;s=UpdateFirmware`); a numeric one needs the browse name, which a client learns
//! before calling: from Browse / BrowseNext responses (§5.8.2-3: every ReferenceDescription
//! carries a NodeId and its BrowseName) or TranslateBrowsePathsToNodeIds (§5.8.4: the request's
//! last path element names the node the response resolves). [`Names`] keeps what one flow
//! showed, bounded, and a call is classified by the method's name: firmware/update/flash is a
//! firmware update, upload a program upload, program/download/deploy/load a program
//! download, reset/reboot/restart a restart, stop and start the CPU's; anything else stays a
//! generic call (control).

use super::binary::{self, NodeRef};
use crate::protocols::reader::Cursor;
use crate::protocols::text::clean_text;
use otwatch_common::observation::{Observation, Operation};
use std::collections::BTreeMap;

/// Node names remembered per flow.
pub const MAX_NAMES: usize = 1024;
/// Characters kept of a browse name.
const MAX_NAME_CHARS: usize = 64;
/// Methods reported per CallRequest.
const MAX_METHODS: usize = 16;
/// References read per Browse(Next) response.
const MAX_REFERENCES: usize = 4096;
/// Browse paths remembered per TranslateBrowsePathsToNodeIds request.
const MAX_PATHS: usize = 32;
/// TranslateBrowsePathsToNodeIds requests awaiting their response.
const MAX_PENDING: usize = 4;
/// Nesting of Variants inside DataValues inside Variants skipped.
const MAX_VARIANT_DEPTH: u8 = 4;

/// A TranslateBrowsePathsToNodeIds request awaiting its response: its RequestId and the
/// last TargetName of each BrowsePath.
type PendingTranslate = (u32, Vec<Option<Box<str>>>);

/// Browse names of the nodes a flow showed, and the translate requests awaiting an answer.
#[derive(Debug, Default)]
pub struct Names {
    names: BTreeMap<u64, Box<str>>,
    pending: [Option<PendingTranslate>; MAX_PENDING],
    next: usize,
}

impl Names {
    fn insert(&mut self, node: &NodeRef<'_>, name: &[u8]) {
        let key = node.key();
        if self.names.len() >= MAX_NAMES && !self.names.contains_key(&key) {
            return;
        }
        if let Some(n) = clean_text(name, MAX_NAME_CHARS) {
            self.names.insert(key, n.into_boxed_str());
        }
    }

    /// The browse name learned for `node`.
    pub fn get(&self, node: &NodeRef<'_>) -> Option<&str> {
        self.names.get(&node.key()).map(|n| &**n)
    }

    /// BrowseResponse / BrowseNextResponse (§5.8.2-3): ResponseHeader, Results
    /// BrowseResult[] { StatusCode, ContinuationPoint ByteString, References
    /// ReferenceDescription[] }; ReferenceDescription (§7.30): ReferenceTypeId NodeId,
    /// IsForward Boolean, NodeId ExpandedNodeId, BrowseName QualifiedName, DisplayName
    /// LocalizedText, NodeClass Int32, TypeDefinition ExpandedNodeId.
    pub fn browse_response(&mut self, body: &[u8]) {
        let mut c = Cursor::new(body);
        let _ = (|| -> Option<()> {
            binary::skip_response_header(&mut c)?;
            let mut budget = MAX_REFERENCES;
            for _ in 0..binary::array_len(&mut c)? {
                c.u32_le()?;
                binary::bytes(&mut c)?;
                for _ in 0..binary::array_len(&mut c)? {
                    budget = budget.checked_sub(1)?;
                    binary::node_ref(&mut c)?;
                    c.skip(1)?;
                    let node = binary::node_ref(&mut c)?;
                    let name = binary::qualified_name(&mut c)?;
                    binary::localized_text(&mut c)?;
                    c.i32_le()?;
                    binary::node_ref(&mut c)?;
                    self.insert(&node, name);
                }
            }
            Some(())
        })();
    }

    /// TranslateBrowsePathsToNodeIdsRequest (§5.8.4): RequestHeader, BrowsePaths
    /// BrowsePath[] { StartingNode NodeId, RelativePath { Elements RelativePathElement[] {
    /// ReferenceTypeId NodeId, IsInverse Boolean, IncludeSubtypes Boolean, TargetName
    /// QualifiedName } } }. Keeps the last TargetName of each path until the response.
    pub fn translate_request(&mut self, request_id: u32, body: &[u8]) {
        let mut c = Cursor::new(body);
        let mut paths = Vec::new();
        let _ = (|| -> Option<()> {
            binary::skip_request_header(&mut c)?;
            for _ in 0..binary::array_len(&mut c)?.min(MAX_PATHS) {
                binary::node_ref(&mut c)?;
                let mut last = None;
                for _ in 0..binary::array_len(&mut c)? {
                    binary::node_ref(&mut c)?;
                    c.skip(2)?;
                    last = Some(binary::qualified_name(&mut c)?);
                }
                paths.push(
                    last.and_then(|n| clean_text(n, MAX_NAME_CHARS))
                        .map(String::into_boxed_str),
                );
            }
            Some(())
        })();
        if paths.is_empty() {
            return;
        }
        if let Some(slot) = self.pending.get_mut(self.next % MAX_PENDING) {
            *slot = Some((request_id, paths));
        }
        self.next = (self.next + 1) % MAX_PENDING;
    }

    /// TranslateBrowsePathsToNodeIdsResponse: ResponseHeader, Results BrowsePathResult[] {
    /// StatusCode, Targets BrowsePathTarget[] { TargetId ExpandedNodeId, RemainingPathIndex
    /// UInt32 } }. A target whose RemainingPathIndex is the maximum value resolved the whole
    /// path, so it is the node the path's last element named.
    pub fn translate_response(&mut self, request_id: u32, body: &[u8]) {
        let Some(paths) = self
            .pending
            .iter_mut()
            .find(|p| p.as_ref().is_some_and(|(id, _)| *id == request_id))
            .and_then(Option::take)
            .map(|(_, paths)| paths)
        else {
            return;
        };
        let mut c = Cursor::new(body);
        let _ = (|| -> Option<()> {
            binary::skip_response_header(&mut c)?;
            for i in 0..binary::array_len(&mut c)?.min(paths.len()) {
                c.u32_le()?;
                for _ in 0..binary::array_len(&mut c)? {
                    let target = binary::node_ref(&mut c)?;
                    let remaining = c.u32_le()?;
                    if let (u32::MAX, Some(Some(name))) = (remaining, paths.get(i)) {
                        self.insert(&target, name.as_bytes());
                    }
                }
            }
            Some(())
        })();
    }

    /// The operation of calling `method`, with its evidence: service "Call", object the
    /// method's NodeId and, when known, its browse name.
    pub fn call(&self, method: &NodeRef<'_>) -> Observation {
        let text = method.text();
        let name = self.get(method);
        let op = name
            .and_then(method_operation)
            .or_else(|| method_operation(&text))
            .unwrap_or(Operation::Control);
        let object = match name {
            Some(n) if method.string() != Some(n.as_bytes()) => format!("{text} ({n})"),
            _ => text,
        };
        Observation::Operation {
            op,
            function_code: Some(super::services::CALL_REQUEST),
            details: vec![("service", "Call".to_owned()), ("object", object)],
        }
    }
}

/// What a method does, judged by its name (ASCII case-insensitive).
pub fn method_operation(name: &str) -> Option<Operation> {
    let n = name.to_ascii_lowercase();
    let any = |words: &[&str]| words.iter().any(|w| n.contains(w));
    // "upload" and "restart" contain "load" and "start": the longer words decide first.
    Some(if any(&["firmware", "update", "flash"]) {
        Operation::FirmwareUpdate
    } else if any(&["upload"]) {
        Operation::ProgramUpload
    } else if any(&["program", "download", "deploy", "load"]) {
        Operation::ProgramDownload
    } else if any(&["reset", "reboot", "restart"]) {
        Operation::Restart
    } else if any(&["stop"]) {
        Operation::CpuStop
    } else if any(&["start"]) {
        Operation::CpuStart
    } else {
        return None;
    })
}

/// Calls `f` with the MethodId of each CallMethodRequest of a CallRequest (§5.11.2):
/// RequestHeader, MethodsToCall CallMethodRequest[] { ObjectId NodeId, MethodId NodeId,
/// InputArguments Variant[] }. A method is reported once both its NodeIds are read, so a
/// body cut short (the first chunk of a large call) still names the methods before the cut.
pub fn call_methods<'a>(body: &'a [u8], mut f: impl FnMut(NodeRef<'a>)) {
    let mut c = Cursor::new(body);
    let _ = (|| -> Option<()> {
        binary::skip_request_header(&mut c)?;
        for _ in 0..binary::array_len(&mut c)?.min(MAX_METHODS) {
            binary::node_ref(&mut c)?;
            f(binary::node_ref(&mut c)?);
            for _ in 0..binary::array_len(&mut c)? {
                skip_variant(&mut c, 0)?;
            }
        }
        Some(())
    })();
}

/// Skips a Variant (Part 6 §5.2.2.16): encoding mask (built-in type in bits 0-5, array
/// dimensions bit 6, array bit 7), the value or the array, then the dimensions.
fn skip_variant(c: &mut Cursor<'_>, depth: u8) -> Option<()> {
    if depth > MAX_VARIANT_DEPTH {
        return None;
    }
    let mask = c.u8()?;
    let ty = mask & 0x3f;
    if ty == 0 {
        // Null: no value (and an array of nulls is malformed).
        return (mask & 0x80 == 0).then_some(());
    }
    if mask & 0x80 != 0 {
        let n = binary::array_len(c)?;
        // Every element takes at least one byte.
        if n > c.remaining() {
            return None;
        }
        for _ in 0..n {
            skip_builtin(c, ty, depth)?;
        }
        if mask & 0x40 != 0 {
            let dims = binary::array_len(c)?;
            c.skip(dims.checked_mul(4)?)?;
        }
        Some(())
    } else {
        skip_builtin(c, ty, depth)
    }
}

/// Skips one value of built-in type `ty` (Part 6 §5.1.2 table 1).
fn skip_builtin(c: &mut Cursor<'_>, ty: u8, depth: u8) -> Option<()> {
    match ty {
        1..=3 => c.skip(1),
        4 | 5 => c.skip(2),
        6 | 7 | 10 | 19 => c.skip(4),
        8 | 9 | 11 | 13 => c.skip(8),
        14 => c.skip(16),
        12 | 15 | 16 => binary::bytes(c).map(|_| ()),
        17 | 18 => binary::node_ref(c).map(|_| ()),
        20 => binary::qualified_name(c).map(|_| ()),
        21 => binary::localized_text(c).map(|_| ()),
        22 => binary::extension_object(c).map(|_| ()),
        // DataValue (§5.2.2.17): mask, then Value, StatusCode, SourceTimestamp,
        // ServerTimestamp, SourcePicoseconds, ServerPicoseconds as flagged.
        23 => {
            let mask = c.u8()?;
            if mask & 0x01 != 0 {
                skip_variant(c, depth + 1)?;
            }
            for (bit, size) in [(0x02, 4), (0x04, 8), (0x08, 8), (0x10, 2), (0x20, 2)] {
                if mask & bit != 0 {
                    c.skip(size)?;
                }
            }
            Some(())
        }
        24 => skip_variant(c, depth + 1),
        25 => binary::skip_diagnostic_info(c),
        _ => None,
    }
}
