//! Arbitrary bytes as a capture file through capture, decode, flows, dissectors and the
//! inventory report.
#![no_main]

use libfuzzer_sys::fuzz_target;
use otwatch_sensor::capture::pcap::CaptureFile;
use otwatch_sensor::capture::PacketSource;
use otwatch_sensor::pipeline::Pipeline;

fuzz_target!(|data: &[u8]| {
    let Ok(mut src) =
        CaptureFile::from_reader(Box::new(std::io::Cursor::new(data.to_vec())), "fuzz".into(), None)
    else {
        return;
    };
    let mut p = Pipeline::default();
    while let Ok(Some(batch)) = src.next_batch() {
        for f in batch.iter() {
            p.frame(&f);
        }
    }
    p.finish();
    let _ = otwatch_sensor::inventory::report(&p.inventory, p.capture_stats());
});
