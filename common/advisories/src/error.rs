//! Errors of reading advisory documents. The caller knows the file; these say what in it is
//! wrong, and what to do next.

/// The formats this crate reads, named in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csaf,
    CveRecord,
    Kev,
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Format::Csaf => "CSAF 2.0 document",
            Format::CveRecord => "CVE JSON 5 record",
            Format::Kev => "CISA KEV catalog",
        })
    }
}

/// A document that could not be read. Nothing of it is imported.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// Not JSON, or a field of the wrong JSON type (serde names the line and column).
    #[error("{format}: {source}; check that the file is complete and of this format")]
    Json {
        format: Format,
        #[source]
        source: serde_json::Error,
    },
    /// A field the format requires is absent or empty.
    #[error("{format}: required field `{field}` is missing or empty")]
    Missing { format: Format, field: &'static str },
    /// A field is present but its value is not allowed.
    #[error("{format}: `{field}` is {value:?}: {expected}")]
    Invalid {
        format: Format,
        field: &'static str,
        value: String,
        expected: &'static str,
    },
}
