//! `otwatch-sensor analyze`: capture files in, inventory out.

use crate::capture::pcap::CaptureFile;
use crate::capture::{CaptureError, PacketSource};
use crate::detect::{derive, DetectConfig};
use crate::inventory;
use crate::pipeline::{Limits, Pipeline};
use crate::store::{self, Store, StoreError};
use otwatch_common::advisories::{self, LoadError, LoadReport};
use otwatch_common::model::InventoryReport;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What `analyze` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct AnalyzeOptions {
    pub inputs: Vec<PathBuf>,
    /// Keep the inventory here and continue what is already there.
    pub state: Option<PathBuf>,
    /// Print progress on stderr (only honoured when stderr is a terminal).
    pub progress: bool,
    /// Detection: thresholds, policy, rules, indicators.
    pub detect: Arc<DetectConfig>,
    /// Caps and timeouts of the flow table and the inventory.
    pub limits: Limits,
    /// Capture segment of each pcapng interface number (`capture.segments`).
    pub segments: Vec<u16>,
    /// Security advisories (CSAF 2.0, CVE JSON 5, CISA KEV files, or directories of them) to
    /// match the assets against; their vulnerabilities go into each asset.
    pub advisories: Vec<PathBuf>,
}

/// The result: the report, plus the capture errors met on the way (the packets before each
/// error were analysed).
#[derive(Debug)]
pub struct AnalyzeOutcome {
    pub report: InventoryReport,
    pub capture_errors: Vec<CaptureError>,
    /// What loading the advisories read and skipped (`None` without advisories).
    pub advisories: Option<LoadReport>,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AnalyzeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no capture files given; pass one or more pcap/pcapng files")]
    NoInput,
    #[error(transparent)]
    Advisories(#[from] LoadError),
}

/// Runs the pipeline over every input in order, continuing the stored inventory.
pub fn analyze(opts: &AnalyzeOptions) -> Result<AnalyzeOutcome, AnalyzeError> {
    if opts.inputs.is_empty() {
        return Err(AnalyzeError::NoInput);
    }
    // Before the capture: a path that cannot be used fails the command at once.
    let catalog = match opts.advisories.as_slice() {
        [] => None,
        paths => Some(advisories::load_paths(paths)?),
    };
    // Without --state nothing is kept: no store at all (writing a whole flood's inventory to a
    // temporary store only to delete it cost more memory than the analysis).
    let store = opts.state.as_deref().map(Store::open_waiting).transpose()?;
    let (inventory, earlier) = match &store {
        Some(s) => s.load()?,
        None => Default::default(),
    };
    let mut pipeline = Pipeline::configured(&opts.limits, opts.detect.clone());
    pipeline.set_segments(opts.segments.clone());
    pipeline.inventory = crate::inventory::Inventory {
        limits: opts.limits.inventory,
        ..inventory
    };
    pipeline.inventory.enforce_limits();
    let mut capture_errors = Vec::new();
    let show = opts.progress && std::io::stderr().is_terminal();
    for path in &opts.inputs {
        if let Err(e) = run_file(&mut pipeline, path, show) {
            capture_errors.push(e);
        }
    }
    pipeline.finish();
    let stats = store::merge_stats(earlier, pipeline.capture_stats());
    let mut report = inventory::report(&pipeline.inventory, stats.clone());
    // Alerts that need the whole inventory (Purdue levels), kept with the others.
    derive::finish(&mut pipeline.inventory.alerts, &mut report, &opts.detect);
    if let Some(store) = &store {
        store.save(&pipeline.inventory, &stats)?;
    }
    // Vulnerabilities belong to the report, not to the stored facts: the same capture with
    // newer advisories gives the newer answer.
    let advisories = catalog.map(|(catalog, loaded)| {
        for asset in &mut report.assets {
            advisories::attach(&catalog, asset);
        }
        loaded
    });
    Ok(AnalyzeOutcome {
        report,
        capture_errors,
        advisories,
    })
}

fn run_file(pipeline: &mut Pipeline, path: &Path, show: bool) -> Result<(), CaptureError> {
    let mut src = CaptureFile::open(path)?;
    let name = path.display().to_string();
    let start = Instant::now();
    let mut next_report = start + Duration::from_millis(500);
    let mut packets: u64 = 0;
    loop {
        let batch = match src.next_batch() {
            Ok(Some(b)) => b,
            Ok(None) => break,
            Err(e) => {
                if show {
                    eprintln!();
                }
                return Err(e);
            }
        };
        for f in batch.iter() {
            pipeline.frame(&f);
        }
        packets += batch.len() as u64;
        if show && Instant::now() >= next_report {
            next_report += Duration::from_millis(500);
            let p = src.progress();
            let pct = p
                .total
                .filter(|t| *t > 0)
                .map_or(0.0, |t| p.done as f64 * 100.0 / t as f64);
            let rate = packets as f64 / start.elapsed().as_secs_f64().max(1e-9);
            eprint!(
                "\r{name}: {pct:5.1}%  {packets} packets  {:.0} k packets/s ",
                rate / 1e3
            );
        }
    }
    if show && start.elapsed() > Duration::from_millis(500) {
        eprintln!(
            "\r{name}: 100.0%  {packets} packets in {:.1} s",
            start.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
