//! Why GE-SRTP traffic is malformed.

/// Why an SRTP message is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SrtpError {
    #[error(
        "not an SRTP header (type {0:#04x}; 0x00-0x03 or 0x08 with a zero second byte expected)"
    )]
    Header(u8),
    #[error("SRTP {kind} with mailbox type {mailbox:#04x}")]
    MailboxType { kind: &'static str, mailbox: u8 },
    #[error("SRTP error NACK to {service}: {major} (major {major_code:#04x}, minor {minor:#04x})")]
    Nack {
        service: &'static str,
        major: &'static str,
        major_code: u8,
        minor: u8,
    },
}
