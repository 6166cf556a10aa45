//! `otwatch-manager demo`: a whole fleet on one machine, through the real path. A manager with
//! an embedded store starts in-process; three `otwatch-sensor` processes at two sites enrol
//! with one-time tokens (CA pinned by hash), replay the captures bundled in the repository over
//! mutual TLS, and stay connected (online, heartbeating) once the manager has acknowledged
//! everything. Then it prints the fleet and the commands to explore it, and keeps serving until
//! Ctrl-C or SIGTERM, when it stops the sensors and the manager.

use crate::{admin, cli, pki, serve};
use anyhow::{bail, Context};
use otwatch_common::link::OperatorRole;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One simulated sensor: its site and the captures it replays.
struct DemoSensor {
    site: &'static str,
    captures: &'static [&'static str],
}

const SENSORS: &[DemoSensor] = &[
    DemoSensor {
        site: "plant-a",
        captures: &["suricata-modbus.pcap", "modicon_test.pcap", "dhcp.pcap"],
    },
    DemoSensor {
        site: "plant-a",
        captures: &[
            "s7comm_reading_plc_status.pcap",
            "lldp.pcap",
            "cdp-v1.pcap",
            "attacks/s7_stop.pcap",
        ],
    },
    DemoSensor {
        site: "plant-b",
        captures: &["enip_cip_example.pcap", "zeek-dnp3.pcap", "snmpv1_get.pcap"],
    },
];

/// How long the console token the demo prints is valid.
const CONSOLE_TOKEN_SECS: i64 = 12 * 3600;

/// Options of `demo`.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Where the manager, sensors and credentials live (kept afterwards).
    pub dir: PathBuf,
    pub listen: String,
    /// The bundled captures (`tests/data` of the repository).
    pub captures: PathBuf,
    /// The `otwatch-sensor` binary.
    pub sensor_bin: PathBuf,
    /// Stop once the sensors are done instead of serving until Ctrl-C.
    pub exit: bool,
}

/// The `otwatch-sensor` next to this binary, else on PATH.
pub fn find_sensor_bin() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("otwatch-sensor")))
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("otwatch-sensor"))
}

/// Sensors that stay connected after their replay, stopped (SIGTERM, then waited for) when the
/// demo ends, however it ends.
#[derive(Default)]
struct Staying(Vec<std::process::Child>);

impl Drop for Staying {
    fn drop(&mut self) {
        for child in &mut self.0 {
            // SIGTERM lets the sensor close its stream and store; it has nothing left to send.
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
        }
        for child in &mut self.0 {
            let _ = child.wait();
        }
    }
}

/// Starts `otwatch-sensor run --pcap ... --stay` and returns once it said that the manager
/// acknowledged its replay; the sensor goes on heartbeating (online) until the demo ends.
fn start_staying_sensor(
    bin: &Path,
    args: &[String],
    log: &Path,
) -> anyhow::Result<std::process::Child> {
    use std::io::BufRead;
    // Its messages go to a file: a pipe nobody reads while it runs could fill and stall it.
    let log_file =
        std::fs::File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
    let mut child = Command::new(bin)
        .args(args)
        .arg("--stay")
        .env("OTWATCH_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(log_file)
        .spawn()
        .with_context(|| {
            format!(
                "cannot start {}; build it (`cargo build --release`) or pass --sensor-bin",
                bin.display()
            )
        })?;
    let stdout = child.stdout.take().context("the sensor's stdout")?;
    let mut lines = std::io::BufReader::new(stdout).lines();
    let acknowledged = lines
        .by_ref()
        .map_while(Result::ok)
        .any(|l| l == otwatch_common::link::REPLAY_ACKNOWLEDGED);
    if !acknowledged {
        // It exited (or closed stdout) without getting there: say why.
        child.wait()?;
        bail!(
            "otwatch-sensor run failed: {}",
            std::fs::read_to_string(log).unwrap_or_default().trim()
        );
    }
    // Whatever it prints later is read and dropped, so it never writes into a closed pipe.
    std::thread::spawn(move || lines.for_each(drop));
    Ok(child)
}

fn run_sensor(bin: &Path, args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new(bin)
        .args(args)
        .env("OTWATCH_LOG", "warn")
        .output()
        .with_context(|| {
            format!(
                "cannot start {}; build it (`cargo build --release`) or pass --sensor-bin",
                bin.display()
            )
        })?;
    if !out.status.success() {
        bail!(
            "otwatch-sensor {} failed: {}",
            args.first().copied().unwrap_or(""),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Runs the demo; prints to stdout.
pub async fn run(o: &DemoOptions) -> anyhow::Result<()> {
    for s in SENSORS {
        for c in s.captures {
            let p = o.captures.join(c);
            if !p.exists() {
                bail!(
                    "{} not found: run the demo from the repository root or pass --captures DIR (tests/data)",
                    p.display()
                );
            }
        }
    }
    if o.dir.join("ca.pem").exists() || o.dir.join("manager").exists() {
        bail!(
            "{} already holds a demo; pass another --state or remove it",
            o.dir.display()
        );
    }
    let data = o.dir.join("manager");
    pki::init(&data, &[], "otwatch-demo")?;
    let m = serve::start(&data, &o.listen).await?;
    let url = format!("https://{}", m.addr);
    let admin_cred = o.dir.join("admin");
    admin::create_user(&data, "admin", OperatorRole::Admin, &admin_cred)?;
    println!("manager listening on {url} (data in {})", data.display());
    let mut staying = Staying::default();
    for (i, s) in SENSORS.iter().enumerate() {
        let token = admin::create_token(&m.shared.ca, m.shared.store.as_ref(), s.site, 600)?;
        let state = o.dir.join(format!("sensor-{}", i + 1));
        let state_s = state.display().to_string();
        let token_s = token.token.to_string();
        let bin = o.sensor_bin.clone();
        let url_c = url.clone();
        let state_c = state_s.clone();
        tokio::task::spawn_blocking(move || {
            run_sensor(
                &bin,
                &[
                    "enroll",
                    "--manager",
                    &url_c,
                    "--enroll-token",
                    &token_s,
                    "--state",
                    &state_c,
                ],
            )
        })
        .await??;
        let mut args: Vec<String> = vec!["run".into(), "--state".into(), state_s.clone()];
        args.push("--pcap".into());
        args.extend(
            s.captures
                .iter()
                .map(|c| o.captures.join(c).display().to_string()),
        );
        let bin = o.sensor_bin.clone();
        let log = state.join("sensor.log");
        let child =
            tokio::task::spawn_blocking(move || start_staying_sensor(&bin, &args, &log)).await??;
        staying.0.push(child);
        println!(
            "sensor {} at {}: enrolled, replayed {}",
            i + 1,
            s.site,
            s.captures.join(", ")
        );
    }
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("otwatch")))
        .filter(|p| p.exists())
        .map_or("otwatch".to_string(), |p| p.display().to_string());
    let mut out = Vec::new();
    for args in [
        vec!["sites"],
        vec!["sensors"],
        vec!["assets", "--site", "plant-a"],
        vec!["alerts"],
    ] {
        let mut full = vec![
            "otwatch".to_string(),
            "--manager".into(),
            url.clone(),
            "--cred".into(),
            admin_cred.display().to_string(),
        ];
        full.extend(args.iter().map(|s| s.to_string()));
        let c = <cli::Cli as clap::Parser>::try_parse_from(&full)?;
        writeln_all(&mut out, &format!("\n$ otwatch {}", args.join(" ")));
        cli::run(c, &mut out).await?;
    }
    print!("{}", String::from_utf8_lossy(&out));
    if o.exit {
        println!("\nthe demo ends here (--exit): the manager and its sensors stop now");
        drop(staying);
        m.stop().await?;
        return Ok(());
    }
    println!(
        "\nExplore it:\n  export OTWATCH_MANAGER={url} OTWATCH_CRED={}\n  {exe} assets --type plc\n  {exe} connections --site plant-b --format json\n  {exe} alerts --severity critical --format json   # then: {exe} alerts ack ID\n  {exe} tokens create --site plant-c        # enrol another sensor: otwatch-sensor enroll --manager {url} --enroll-token TOKEN\n  grpcurl -cacert {ca} -cert {cert} -key {key} {addr} list",
        admin_cred.display(),
        ca = admin_cred.join("ca.pem").display(),
        cert = admin_cred.join("cert.pem").display(),
        key = admin_cred.join("key.pem").display(),
        addr = m.addr,
    );
    // The console: an admin's bearer token for the browser, valid as long as a working day.
    let console = admin::create_operator_token(
        m.shared.store.as_ref(),
        "demo-admin",
        OperatorRole::Admin,
        CONSOLE_TOKEN_SECS,
    )?;
    println!(
        "\nWeb console: {url}/\n  sign in with this token (role admin, valid until {}):\n  {}\n  the manager's certificate is signed by the demo's own CA ({}): import it into the browser, or accept its warning once",
        console.expires_at,
        console.token,
        admin_cred.join("ca.pem").display(),
    );
    println!("\nserving until Ctrl-C (the sensors stay online)");
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = term.recv() => {}
    }
    drop(staying);
    m.stop().await?;
    Ok(())
}

fn writeln_all(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(s.as_bytes());
    out.push(b'\n');
}
