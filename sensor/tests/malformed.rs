#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Damaged input through the whole pipeline: random frames, truncated and oversized length
//! fields, corrupt capture files. Nothing may panic; damage is counted.

use otwatch_sensor::capture::pcap::CaptureFile;
use otwatch_sensor::capture::PacketSource;
use otwatch_sensor::pipeline::Pipeline;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn pcap(linktype: u32, frames: &[Vec<u8>]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&0xa1b2c3d4u32.to_le_bytes());
    f.extend_from_slice(&2u16.to_le_bytes());
    f.extend_from_slice(&4u16.to_le_bytes());
    f.extend_from_slice(&[0; 8]);
    f.extend_from_slice(&65535u32.to_le_bytes());
    f.extend_from_slice(&linktype.to_le_bytes());
    for (i, fr) in frames.iter().enumerate() {
        f.extend_from_slice(&(1_600_000_000u32 + i as u32).to_le_bytes());
        f.extend_from_slice(&0u32.to_le_bytes());
        f.extend_from_slice(&(fr.len() as u32).to_le_bytes());
        f.extend_from_slice(&(fr.len() as u32).to_le_bytes());
        f.extend_from_slice(fr);
    }
    f
}

fn run(bytes: Vec<u8>) -> (Pipeline, Option<String>) {
    let mut p = Pipeline::default();
    let mut err = None;
    match CaptureFile::from_reader(Box::new(std::io::Cursor::new(bytes)), "mem".into(), None) {
        Ok(mut src) => loop {
            match src.next_batch() {
                Ok(Some(b)) => b.iter().for_each(|f| p.frame(&f)),
                Ok(None) => break,
                Err(e) => {
                    err = Some(e.to_string());
                    break;
                }
            }
        },
        Err(e) => err = Some(e.to_string()),
    }
    p.finish();
    (p, err)
}

/// A valid Ethernet/IPv4/TCP frame to mutate.
fn tcp_frame(sport: u16, dport: u16, seq: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0, 0x1b, 0x1b, 0, 0, 2, 0, 0x1b, 0x1b, 0, 0, 1, 8, 0];
    let total = (20 + 20 + payload.len()) as u16;
    f.extend_from_slice(&[0x45, 0]);
    f.extend_from_slice(&total.to_be_bytes());
    f.extend_from_slice(&[0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
    f.extend_from_slice(&sport.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.extend_from_slice(&seq.to_be_bytes());
    f.extend_from_slice(&[0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    f.extend_from_slice(payload);
    f
}

#[test]
fn random_and_mutated_frames_never_panic_and_are_counted() {
    let mut rng = Rng(0x2545f4914f6cdd1d);
    let base = [
        tcp_frame(40000, 80, 1, 0x02, b""),
        tcp_frame(
            40000,
            80,
            2,
            0x18,
            b"GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\n\r\n",
        ),
        tcp_frame(502, 40001, 7, 0x18, &[0, 1, 0, 0, 0, 6, 1, 3, 0, 0, 0, 10]),
        tcp_frame(40002, 53, 9, 0x18, &[0xff; 64]),
    ];
    let mut frames = Vec::new();
    for i in 0..20_000 {
        let mut f = base[i % base.len()].clone();
        match rng.next() % 5 {
            0 => f.truncate((rng.next() as usize) % f.len()),
            1 => {
                // Lie in a length field: IP total length, IHL, TCP data offset.
                let at = [16usize, 17, 14, 46][(rng.next() % 4) as usize];
                if let Some(b) = f.get_mut(at) {
                    *b = rng.next() as u8;
                }
            }
            2 => {
                for _ in 0..4 {
                    let at = (rng.next() as usize) % f.len();
                    f[at] = rng.next() as u8;
                }
            }
            3 => {
                f = (0..(rng.next() % 200)).map(|_| rng.next() as u8).collect();
            }
            _ => {}
        }
        frames.push(f);
    }
    for linktype in [1u32, 101, 113, 276, 0] {
        let (p, err) = run(pcap(linktype, &frames));
        assert!(err.is_none(), "{err:?}");
        assert_eq!(p.stats.packets, frames.len() as u64);
        assert!(p.capture_stats().decode_errors > 0, "linktype {linktype}");
    }
}

#[test]
fn corrupt_capture_files_end_with_an_error_naming_the_offset() {
    let frames = vec![tcp_frame(40000, 80, 1, 0x02, b""); 10];
    let good = pcap(1, &frames);
    // A record claiming 200 MB.
    let mut huge = good.clone();
    let rec = 24 + 3 * (16 + frames[0].len());
    huge[rec + 8..rec + 12].copy_from_slice(&200_000_000u32.to_le_bytes());
    let (p, err) = run(huge);
    assert_eq!(p.stats.packets, 3);
    assert!(err.unwrap().contains(&format!("offset {rec}")));
    // Every truncation of a valid file.
    for cut in 0..good.len() {
        let (_, _) = run(good[..cut].to_vec());
    }
    // Random bytes after a valid header.
    let mut rng = Rng(7);
    for _ in 0..200 {
        let mut f = good[..24].to_vec();
        f.extend((0..(rng.next() % 4000)).map(|_| rng.next() as u8));
        let _ = run(f);
    }
}
