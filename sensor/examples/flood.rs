//! Writes a hostile capture for the flood benchmark (scripts/bench-flood.sh).
//!
//!   cargo run --release --example flood -- flows|syn PACKETS OUT.pcap

#[path = "../tests/common/flood.rs"]
mod flood;

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [kind, n, out] = args.as_slice() else {
        eprintln!("usage: flood flows|syn PACKETS OUT.pcap");
        std::process::exit(1);
    };
    let kind = match kind.as_str() {
        "flows" => flood::Flood::Flows,
        "syn" => flood::Flood::Syn,
        k => {
            eprintln!("unknown flood {k:?}: flows or syn");
            std::process::exit(1);
        }
    };
    let Ok(n) = n.parse() else {
        eprintln!("PACKETS must be a number, not {n:?}");
        std::process::exit(1);
    };
    flood::write(std::path::Path::new(out), kind, n)
}
