//! `otwatch report`: the risk assessment report of a site or of the fleet, as one HTML file,
//! a PDF printed from it by headless Chromium, or JSON (docs/RISK.md, "The report").
//!
//! The data comes from the manager like `otwatch risk`'s (GetRisk, ListSites), plus every asset
//! (with its vulnerabilities) and every connection for the Purdue maps. Rendering is in the
//! child modules and takes nothing from the network or the clock but what [`model::Data`]
//! holds, so the same data gives the same bytes apart from the generated-at line.

use super::{Client, Format};
use anyhow::{bail, Context};
use clap::ValueEnum;
use otwatch_proto::v1::{
    GetRiskRequest, ListAssetsRequest, ListAssetsResponse, ListConnectionsRequest,
    ListConnectionsResponse, ListSitesRequest, ListSitesResponse, RiskAssessment,
};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tonic::Status;

mod charts;
pub mod html;
pub mod json;
pub mod model;
mod pdf;
mod purdue;
mod site;
mod text;

/// The kinds of report.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Html,
    Pdf,
    Json,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Html => "html",
            Kind::Pdf => "pdf",
            Kind::Json => "json",
        }
    }
}

#[derive(clap::Args, Debug)]
#[command(
    after_help = "The kind of report comes from the --out extension (.html or .htm, .pdf, .json), or from --as, which a name without one of those extensions needs; --as and the extension must agree, and the global --format json only goes with a JSON report.\n\nThe PDF is printed by headless Chromium (chromium, chromium-browser or google-chrome on the PATH, or OTWATCH_CHROMIUM=PATH); on Debian: apt-get install chromium.\n\nExamples:\n  otwatch report --site plant-a --out risk.html\n  otwatch report --out fleet.pdf\n  otwatch report --site plant-a --as json --out -"
)]
pub struct ReportArgs {
    /// One site; without it, the whole fleet, with a section per site.
    #[arg(long)]
    pub site: Option<String>,
    /// The file to write ("-": standard output, for html and json).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// The kind of report, when the --out extension does not say it.
    #[arg(long = "as", value_enum, value_name = "KIND")]
    pub kind: Option<Kind>,
    /// The time the report says it was generated at, instead of now (RFC 3339, e.g.
    /// 2026-03-01T08:00:00Z): the same data then gives the same bytes.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub generated_at: Option<String>,
    /// Seconds to wait for Chromium to print the PDF.
    #[arg(long, value_name = "SECS", default_value_t = 120)]
    pub pdf_timeout: u64,
}

/// An RFC 3339 time in UTC as `otwatch` prints them: `YYYY-MM-DDTHH:MM:SS` with optional
/// fractions and a `Z`.
fn parse_time(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    let shape = b.len() >= 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b[b.len() - 1] == b'Z'
        && (b.len() == 20 || (b[19] == b'.' && digits(20..b.len() - 1)));
    if shape {
        Ok(s.to_string())
    } else {
        Err(format!("{s:?} is not a UTC time like 2026-03-01T08:00:00Z"))
    }
}

/// The kind named by the extension of `out`.
fn kind_of_name(out: &Path) -> Option<Kind> {
    let ext = out.extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "html" | "htm" => Some(Kind::Html),
        "pdf" => Some(Kind::Pdf),
        "json" => Some(Kind::Json),
        _ => None,
    }
}

/// The kind of report asked for: `--as`, else the extension of `--out`, else JSON when the
/// global `--format json` was given. A choice that contradicts another is refused rather than
/// guessed at.
pub fn resolve_kind(asked: Option<Kind>, out: &Path, fmt: Format) -> anyhow::Result<Kind> {
    let named = kind_of_name(out);
    if let (Some(a), Some(n)) = (asked, named) {
        if a != n {
            bail!(
                "--as {} clashes with --out {}, which names a {} file: drop --as, or change the name",
                a.as_str(),
                out.display(),
                n.as_str()
            );
        }
    }
    let kind = asked
        .or(named)
        .or((fmt == Format::Json).then_some(Kind::Json));
    let Some(kind) = kind else {
        bail!(
            "cannot tell the kind of report from --out {}: name it .html, .pdf or .json, or pass --as html|pdf|json",
            out.display()
        );
    };
    if fmt == Format::Json && kind != Kind::Json {
        bail!(
            "--format json clashes with a {} report: the report's kind comes from --as or the --out extension (use --as json, or leave out --format)",
            kind.as_str()
        );
    }
    if kind == Kind::Pdf && out == Path::new("-") {
        bail!("a PDF report is written to a file: pass --out FILE.pdf");
    }
    Ok(kind)
}

/// Gathers the report's data from the manager, renders it, writes it to `args.out` and says so
/// on `say`. `err` turns a failed call into the error to show.
pub async fn run(
    c: &mut Client,
    args: ReportArgs,
    fmt: Format,
    err: &dyn Fn(tonic::Status) -> anyhow::Error,
    say: &mut dyn Write,
) -> anyhow::Result<()> {
    let kind = resolve_kind(args.kind, &args.out, fmt)?;
    // Without Chromium there is no PDF: say so before asking the manager for anything.
    if kind == Kind::Pdf {
        pdf::chromium()?;
    }
    let site = args.site.unwrap_or_default();
    let generated_at = args.generated_at.unwrap_or_else(now);
    let data = gather(c, site, generated_at).await.map_err(err)?;
    let bytes = match kind {
        Kind::Html => html::render(&data).into_bytes(),
        Kind::Json => json::render(&data)?.into_bytes(),
        Kind::Pdf => {
            let page = html::render(&data);
            pdf::write(
                &page,
                &args.out,
                Duration::from_secs(args.pdf_timeout.max(1)),
            )?;
            Vec::new()
        }
    };
    if args.out == Path::new("-") {
        say.write_all(&bytes)?;
        return Ok(());
    }
    if kind != Kind::Pdf {
        std::fs::write(&args.out, &bytes)
            .with_context(|| format!("writing {}", args.out.display()))?;
    }
    writeln!(
        say,
        "{} report written to {}",
        kind.as_str(),
        super::terminal_safe(&args.out.display().to_string())
    )?;
    Ok(())
}

/// Where a report's data comes from: a manager over gRPC (`otwatch report`), or the manager
/// itself, on behalf of a console session (the download on the risk page). Each call is the
/// Manager API's, so the caller sees what its role may see.
#[allow(async_fn_in_trait)] // used with concrete types only
pub trait Source {
    async fn get_risk(&mut self, q: GetRiskRequest) -> Result<RiskAssessment, Status>;
    async fn list_sites(&mut self, q: ListSitesRequest) -> Result<ListSitesResponse, Status>;
    async fn list_assets(&mut self, q: ListAssetsRequest) -> Result<ListAssetsResponse, Status>;
    async fn list_connections(
        &mut self,
        q: ListConnectionsRequest,
    ) -> Result<ListConnectionsResponse, Status>;
}

impl Source for Client {
    async fn get_risk(&mut self, q: GetRiskRequest) -> Result<RiskAssessment, Status> {
        Ok(Client::get_risk(self, q).await?.into_inner())
    }
    async fn list_sites(&mut self, q: ListSitesRequest) -> Result<ListSitesResponse, Status> {
        Ok(Client::list_sites(self, q).await?.into_inner())
    }
    async fn list_assets(&mut self, q: ListAssetsRequest) -> Result<ListAssetsResponse, Status> {
        Ok(Client::list_assets(self, q).await?.into_inner())
    }
    async fn list_connections(
        &mut self,
        q: ListConnectionsRequest,
    ) -> Result<ListConnectionsResponse, Status> {
        Ok(Client::list_connections(self, q).await?.into_inner())
    }
}

/// The report's data for `site` (empty: the fleet): the risk assessment, the sites, every asset
/// (in id order) and every connection.
pub async fn gather(
    c: &mut impl Source,
    site: String,
    generated_at: String,
) -> Result<model::Data, Status> {
    let started = std::time::Instant::now();
    let risk = c.get_risk(GetRiskRequest { site: site.clone() }).await?;
    let assessed = started.elapsed();
    let sites = if site.is_empty() {
        let listed = c.list_sites(ListSitesRequest {}).await?;
        let mut names: Vec<String> = listed.sites.into_iter().map(|s| s.name).collect();
        names.sort();
        names
    } else {
        vec![site.clone()]
    };
    let mut q = ListAssetsRequest {
        site: site.clone(),
        page_size: crate::api::MAX_PAGE as u32,
        ..Default::default()
    };
    let mut assets = Vec::new();
    loop {
        let r = c.list_assets(q.clone()).await?;
        assets.extend(r.assets);
        if r.next_page_token.is_empty() {
            break;
        }
        q.page_token = r.next_page_token;
    }
    assets.sort_by(|a, b| a.id.cmp(&b.id));
    let mut q = ListConnectionsRequest {
        site: site.clone(),
        page_size: crate::api::MAX_PAGE as u32,
        ..Default::default()
    };
    let mut connections = Vec::new();
    loop {
        let r = c.list_connections(q.clone()).await?;
        connections.extend(r.connections);
        if r.next_page_token.is_empty() {
            break;
        }
        q.page_token = r.next_page_token;
    }
    tracing::debug!(
        assets = assets.len(),
        connections = connections.len(),
        risk_ms = assessed.as_millis() as u64,
        lists_ms = (started.elapsed() - assessed).as_millis() as u64,
        "report data gathered"
    );
    Ok(model::Data {
        site,
        generated_at,
        risk,
        sites,
        assets,
        connections,
    })
}

/// Now, in RFC 3339 (UTC, seconds).
fn now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    crate::pki::rfc3339(i64::try_from(secs).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod preview;
#[cfg(test)]
mod tests;
