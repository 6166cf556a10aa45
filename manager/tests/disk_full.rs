//! The manager on a full disk: its data directory on a small tmpfs (needs root to mount it;
//! otherwise the test says why and passes without running).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use otwatch_common::link::OperatorRole;
use otwatch_proto::v1::*;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs of `mb` MiB mounted on a new directory; unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(mb: u32) -> Result<Tmpfs, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let o = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mb}m"), "tmpfs"])
            .arg(dir.path())
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !o.status.success() {
            return Err(format!(
                "cannot mount a tmpfs (needs root): {}",
                String::from_utf8_lossy(&o.stderr).trim()
            ));
        }
        Ok(Tmpfs { dir })
    }
    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// Fills the file system of `dir` with a new file `dir/<name>` until it is full.
fn fill(dir: &Path, name: &str) -> PathBuf {
    let p = dir.join(name);
    let mut f = std::fs::File::create(&p).unwrap();
    let chunk = vec![0u8; 64 << 10];
    while f.write_all(&chunk).is_ok() {}
    let small = [0u8; 512];
    while f.write_all(&small).is_ok() {}
    let _ = f.sync_all();
    p
}

/// `n` asset upserts from `first` on, each with a 300-byte host name.
fn assets(first: u64, n: u64) -> Vec<Delta> {
    (first..first + n)
        .map(|seq| {
            let ip = format!("10.{}.{}.{}", seq >> 16, (seq >> 8) & 255, seq & 255);
            let mut d = asset(seq, &format!("ip:{ip}"), &[], &[&ip]);
            if let Some(delta::Change::Asset(a)) = d.change.as_mut() {
                a.hostname = "h".repeat(300);
            }
            d
        })
        .collect()
}

const FULL: &str =
    "the manager's disk is full; it keeps serving reads and accepts data again when space is freed";

async fn listed(url: &str, cred: &Path) -> u64 {
    let mut op = otwatch_manager::cli::connect(url, cred, otwatch_manager::tls::DEFAULT_TIMEOUT)
        .await
        .unwrap();
    all_assets(&mut op, "plant-f").await.total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_data_keeps_serving_reads_and_recovers() {
    let fs = match Tmpfs::mount(8) {
        Ok(f) => f,
        Err(why) => {
            eprintln!("SKIPPED a_full_disk_refuses_data_keeps_serving_reads_and_recovers: {why}");
            return;
        }
    };
    init_logs();
    let data = fs.path().join("m");
    otwatch_manager::pki::init(&data, &[], "test-manager").unwrap();
    let cred = fs.path().join("op");
    otwatch_manager::admin::create_user(&data, "op", OperatorRole::Viewer, &cred).unwrap();
    let m = otwatch_manager::serve::start(&data, "127.0.0.1:0")
        .await
        .unwrap();
    let url = format!("https://{}", m.addr);
    let t = otwatch_manager::admin::create_token(
        &m.shared.ca,
        m.shared.store.as_ref(),
        "plant-f",
        3600,
    )
    .unwrap();
    let s = enroll(&url, m.addr.port(), &t.token.to_string())
        .await
        .unwrap();
    let mut c = s.client(&url).await.unwrap();
    assert_eq!(sync(&mut c, vec![assets(1, 100)]).await.unwrap(), vec![100]);

    // The disk fills up: batches are refused with what is going on, until one is not.
    let filler = fill(fs.path(), "filler");
    let mut next = 101;
    let refusal = loop {
        let mut c = s.client(&url).await.unwrap();
        match sync(&mut c, vec![assets(next, 200)]).await {
            Ok(acks) => {
                assert_eq!(acks, vec![next + 199]);
                next += 200;
                assert!(next < 5000, "the disk never filled up");
            }
            Err(e) => break e,
        }
    };
    assert_eq!(refusal.code(), tonic::Code::Unavailable, "{refusal}");
    assert_eq!(refusal.message(), FULL);
    let acked = next - 1;
    // It keeps refusing without trying, answers heartbeats and serves reads.
    let mut c = s.client(&url).await.unwrap();
    let e = sync(&mut c, vec![assets(next, 10)]).await.unwrap_err();
    assert_eq!((e.code(), e.message()), (tonic::Code::Unavailable, FULL));
    let hb = c
        .heartbeat(HeartbeatRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(hb.applied_seq, acked);
    assert_eq!(listed(&url, &cred).await, acked);

    // Restarted while full: it starts, serves reads, refuses data.
    drop(c);
    m.stop().await.unwrap();
    let m = otwatch_manager::serve::start(&data, "127.0.0.1:0")
        .await
        .unwrap();
    let url = format!("https://{}", m.addr);
    assert_eq!(listed(&url, &cred).await, acked);
    let mut c = s.client(&url).await.unwrap();
    let e = sync(&mut c, vec![assets(next, 10)]).await.unwrap_err();
    assert_eq!((e.code(), e.message()), (tonic::Code::Unavailable, FULL));

    // Filled to the last byte meanwhile (the reserve is used up): it starts if it can, and
    // says why when it cannot; nothing it holds is damaged either way.
    drop(c);
    m.stop().await.unwrap();
    let more = fill(fs.path(), "more");
    match otwatch_manager::serve::start(&data, "127.0.0.1:0").await {
        Ok(m) => {
            let url = format!("https://{}", m.addr);
            assert_eq!(listed(&url, &cred).await, acked);
            let mut c = s.client(&url).await.unwrap();
            let e = sync(&mut c, vec![assets(next, 10)]).await.unwrap_err();
            assert_eq!((e.code(), e.message()), (tonic::Code::Unavailable, FULL));
            drop(c);
            m.stop().await.unwrap();
        }
        Err(e) => {
            let e = e.to_string();
            assert!(e.contains("the disk is full; free space"), "{e}");
        }
    }
    std::fs::remove_file(&more).unwrap();
    let m = otwatch_manager::serve::start(&data, "127.0.0.1:0")
        .await
        .unwrap();
    let url = format!("https://{}", m.addr);
    assert_eq!(listed(&url, &cred).await, acked);

    // Space is freed: the resend goes in, nothing lost or doubled.
    std::fs::remove_file(&filler).unwrap();
    let mut c = s.client(&url).await.unwrap();
    assert_eq!(
        sync(&mut c, vec![assets(next, 50)]).await.unwrap(),
        vec![next + 49]
    );
    assert_eq!(listed(&url, &cred).await, acked + 50);
    expect_log(&["has disk space again"]).await;
    assert!(!logs().contains("another otwatch-manager"), "{}", logs());

    // And after a restart with space, all of it is there.
    drop(c);
    m.stop().await.unwrap();
    let m = otwatch_manager::serve::start(&data, "127.0.0.1:0")
        .await
        .unwrap();
    let url = format!("https://{}", m.addr);
    assert_eq!(listed(&url, &cred).await, acked + 50);
    let mut c = s.client(&url).await.unwrap();
    let hb = c
        .heartbeat(HeartbeatRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(hb.applied_seq, acked + 50);
    drop(c);
    m.stop().await.unwrap();
}
