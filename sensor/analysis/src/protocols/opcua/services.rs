//! OPC UA services (OPC 10000-4, "Part 4"): the encoding ids of the service requests and
//! their place in the shared operation vocabulary, and the few service bodies read for
//! identity (CreateSession, ActivateSession, GetEndpoints).
//!
//! Encoding ids are the `*_Encoding_DefaultBinary` objects of namespace 0 in the OPC
//! Foundation's NodeIds.csv (as shipped in open62541 `tools/schema/NodeIds.csv`), checked
//! against Wireshark's `opcua.servicenodeid.numeric` on the corpus captures.

use super::binary::{self, ApplicationDescription};
use crate::protocols::reader::Cursor;
use otwatch_common::observation::Operation;

pub const FIND_SERVERS_REQUEST: u32 = 422;
pub const GET_ENDPOINTS_REQUEST: u32 = 428;
pub const GET_ENDPOINTS_RESPONSE: u32 = 431;
pub const REGISTER_SERVER_REQUEST: u32 = 437;
pub const OPEN_SECURE_CHANNEL_REQUEST: u32 = 446;
pub const CLOSE_SECURE_CHANNEL_REQUEST: u32 = 452;
pub const CREATE_SESSION_REQUEST: u32 = 461;
pub const CREATE_SESSION_RESPONSE: u32 = 464;
pub const ACTIVATE_SESSION_REQUEST: u32 = 467;
pub const BROWSE_RESPONSE: u32 = 530;
pub const BROWSE_NEXT_RESPONSE: u32 = 536;
pub const TRANSLATE_REQUEST: u32 = 554;
pub const TRANSLATE_RESPONSE: u32 = 557;
pub const READ_REQUEST: u32 = 631;
pub const WRITE_REQUEST: u32 = 673;
pub const CALL_REQUEST: u32 = 712;
pub const FIND_SERVERS_ON_NETWORK_REQUEST: u32 = 12208;
pub const REGISTER_SERVER2_REQUEST: u32 = 12211;

/// UserNameIdentityToken_Encoding_DefaultBinary (Part 4 §7.36.4).
const USER_NAME_IDENTITY_TOKEN: u32 = 324;

/// Whether `id` is a service request, and the operation it performs (`None` for session,
/// channel and subscription plumbing, reported as a bare function code).
pub fn request_operation(id: u32) -> Option<Option<Operation>> {
    use Operation::*;
    Some(match id {
        // Discovery service set (Part 4 §5.4): who is there, with which endpoints.
        FIND_SERVERS_REQUEST | GET_ENDPOINTS_REQUEST | FIND_SERVERS_ON_NETWORK_REQUEST => {
            Some(Identify)
        }
        REGISTER_SERVER_REQUEST | REGISTER_SERVER2_REQUEST => None,
        // SecureChannel (§5.5) and Session (§5.6) service sets; 479 Cancel, 473 CloseSession.
        OPEN_SECURE_CHANNEL_REQUEST
        | CLOSE_SECURE_CHANNEL_REQUEST
        | CREATE_SESSION_REQUEST
        | ACTIVATE_SESSION_REQUEST
        | 473
        | 479 => None,
        // NodeManagement (§5.7): AddNodes 488, AddReferences 494, DeleteNodes 500,
        // DeleteReferences 506 change the address space.
        488 | 494 | 500 | 506 => Some(Write),
        // View (§5.8): Browse 527, BrowseNext 533, TranslateBrowsePathsToNodeIds 554;
        // Query (§5.9): QueryFirst 615, QueryNext 621; Attribute (§5.10): Read, HistoryRead 664.
        527 | 533 | 554 | 615 | 621 | READ_REQUEST | 664 => Some(Read),
        // RegisterNodes 560 / UnregisterNodes 566 (§5.8.5-6) only prepare later access.
        560 | 566 => None,
        // Attribute (§5.10): Write, HistoryUpdate 700.
        WRITE_REQUEST | 700 => Some(Write),
        // Method (§5.11): Call runs code on the server.
        CALL_REQUEST => Some(Control),
        // MonitoredItem (§5.12): CreateMonitoredItems samples values for the client.
        751 => Some(Read),
        // ModifyMonitoredItems 763, SetMonitoringMode 769, SetTriggering 775,
        // DeleteMonitoredItems 781; Subscription (§5.13): Create 787, Modify 793,
        // SetPublishingMode 799, Publish 826, Republish 832, Transfer 841, Delete 847.
        763 | 769 | 775 | 781 | 787 | 793 | 799 | 826 | 832 | 841 | 847 => None,
        _ => return None,
    })
}

/// CreateSessionRequest (Part 4 §5.6.2): RequestHeader, then ClientDescription.
pub fn create_session_request(body: &[u8]) -> Option<ApplicationDescription<'_>> {
    let mut c = Cursor::new(body);
    binary::skip_request_header(&mut c)?;
    binary::application_description(&mut c)
}

/// The user identity an ActivateSessionRequest carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserIdentity<'a> {
    /// UserNameIdentityToken (Part 4 §7.36.4). The password is deliberately not kept.
    UserName {
        user: &'a [u8],
        /// Empty when the password travels unencrypted inside the token.
        encryption_algorithm: &'a [u8],
    },
    /// Anonymous, X.509, issued or an unknown token type.
    Other,
}

/// ActivateSessionRequest (Part 4 §5.6.3): RequestHeader, ClientSignature SignatureData
/// (Algorithm String, Signature ByteString), ClientSoftwareCertificates
/// SignedSoftwareCertificate[] (two ByteStrings each), LocaleIds String[], then
/// UserIdentityToken ExtensionObject.
pub fn activate_session_request(body: &[u8]) -> Option<UserIdentity<'_>> {
    let mut c = Cursor::new(body);
    binary::skip_request_header(&mut c)?;
    binary::bytes(&mut c)?;
    binary::bytes(&mut c)?;
    for _ in 0..binary::array_len(&mut c)? {
        binary::bytes(&mut c)?;
        binary::bytes(&mut c)?;
    }
    binary::skip_string_array(&mut c)?;
    let (type_id, encoding, token) = binary::extension_object(&mut c)?;
    if type_id.ns0_numeric() != Some(USER_NAME_IDENTITY_TOKEN) || encoding != 0x01 {
        return Some(UserIdentity::Other);
    }
    // UserNameIdentityToken: PolicyId String, UserName String, Password ByteString,
    // EncryptionAlgorithm String.
    let mut t = Cursor::new(token);
    binary::bytes(&mut t)?;
    let user = binary::bytes(&mut t)?;
    binary::bytes(&mut t)?;
    let encryption_algorithm = binary::bytes(&mut t)?;
    Some(UserIdentity::UserName {
        user,
        encryption_algorithm,
    })
}

/// The server's own ApplicationDescription from the first EndpointDescription of an
/// endpoint list (Part 4 §7.10: EndpointUrl String, then Server ApplicationDescription).
fn first_endpoint_server<'a>(c: &mut Cursor<'a>) -> Option<ApplicationDescription<'a>> {
    if binary::array_len(c)? == 0 {
        return None;
    }
    binary::bytes(c)?;
    binary::application_description(c)
}

/// GetEndpointsResponse (Part 4 §5.4.4): ResponseHeader, Endpoints EndpointDescription[].
pub fn get_endpoints_response(body: &[u8]) -> Option<ApplicationDescription<'_>> {
    let mut c = Cursor::new(body);
    binary::skip_response_header(&mut c)?;
    first_endpoint_server(&mut c)
}

/// CreateSessionResponse (Part 4 §5.6.2): ResponseHeader, SessionId NodeId,
/// AuthenticationToken NodeId, RevisedSessionTimeout Double, ServerNonce ByteString,
/// ServerCertificate ByteString, ServerEndpoints EndpointDescription[].
pub fn create_session_response(body: &[u8]) -> Option<ApplicationDescription<'_>> {
    let mut c = Cursor::new(body);
    binary::skip_response_header(&mut c)?;
    binary::expanded_node_id(&mut c)?;
    binary::expanded_node_id(&mut c)?;
    c.skip(8)?;
    binary::bytes(&mut c)?;
    binary::bytes(&mut c)?;
    first_endpoint_server(&mut c)
}
