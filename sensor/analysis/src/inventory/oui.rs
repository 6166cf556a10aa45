//! Vendor names from the IEEE MAC address registries: MA-L (24-bit OUI), MA-M (28-bit) and
//! MA-S / IAB (36-bit), IEEE Std 802-2014 clause 8.2.
//!
//! The table is `sensor/data/oui.tsv`, written by `scripts/update-oui.sh` and embedded at build
//! time: the sensor never fetches it at run time. It is parsed once, on first use, into one
//! sorted array per prefix length; a lookup is at most three binary searches, longest prefix
//! first, so a small-block assignee wins over the block's MA-L holder.

use std::sync::OnceLock;

use otwatch_common::Mac;

/// Where the vendor table comes from, for `--version` and the docs. Keep in step with the
/// `# source:` line of `sensor/data/oui.tsv` (a test checks the ieee-data version).
pub const OUI_SOURCE: &str = "IEEE MA-L/MA-M/MA-S/IAB public listings \
    (Debian ieee-data 20220827.1, listings of 2022-08-27)";

/// `PREFIX_HEX<TAB>BITS<TAB>Vendor` lines, `#` comments; see `sensor/data/README.md`.
const TABLE_TSV: &str = include_str!("../../../data/oui.tsv");

/// The vendor registered for the block holding `mac`, or `None` when it has no IEEE vendor:
/// locally administered, group or all-zero addresses, unassigned or private registrations.
pub fn vendor(mac: Mac) -> Option<&'static str> {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| Table::parse(TABLE_TSV)).lookup(mac)
}

/// Prefix lengths in bits, longest first: the lookup order.
const BITS: [u32; 3] = [36, 28, 24];

/// One `(prefix, vendor)` array per entry of [`BITS`], sorted by prefix.
struct Table([Vec<(u64, &'static str)>; 3]);

impl Table {
    /// Malformed lines are skipped; a test checks the embedded file has none.
    fn parse(text: &'static str) -> Table {
        let mut by_len: [Vec<(u64, &'static str)>; 3] = Default::default();
        for line in text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let mut fields = line.split('\t');
            let (Some(hex), Some(bits), Some(name), None) =
                (fields.next(), fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            let Some(slot) = bits.parse().ok().and_then(|b: u32| {
                let i = BITS.iter().position(|&x| x == b)?;
                // Exactly bits / 4 hex digits (from_str_radix alone would take a sign).
                (hex.len() == b as usize / 4 && hex.bytes().all(|c| c.is_ascii_hexdigit()))
                    .then_some(i)
            }) else {
                continue;
            };
            if let (Ok(prefix), Some(list)) = (u64::from_str_radix(hex, 16), by_len.get_mut(slot)) {
                list.push((prefix, name));
            }
        }
        for list in &mut by_len {
            // Already in order when the file comes from the script; sorting keeps lookups
            // correct for a hand-edited file too.
            list.sort_unstable();
            list.dedup_by_key(|e| e.0);
        }
        Table(by_len)
    }

    fn lookup(&self, mac: Mac) -> Option<&'static str> {
        if !mac.is_unicast() || mac.is_local() {
            return None;
        }
        let [a, b, c, d, e, f] = mac.0;
        let addr = u64::from_be_bytes([0, 0, a, b, c, d, e, f]);
        self.0.iter().zip(BITS).find_map(|(list, bits)| {
            let key = addr >> (48 - bits);
            let i = list.binary_search_by_key(&key, |e| e.0).ok()?;
            list.get(i).map(|e| e.1)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn mac(v: u64) -> Mac {
        let b = v.to_be_bytes();
        Mac([b[2], b[3], b[4], b[5], b[6], b[7]])
    }

    /// Source MACs seen in /work/shared/pcaps, with the names tshark 4.0 printed for
    /// `eth.src.oui_resolved` in the comments (Wireshark's own manuf file, which renames some).
    #[test]
    fn corpus_vendors() {
        let cases: &[(u64, &str)] = &[
            // s7comm/step7_s300_readDiagData.pcapng; tshark "Siemens AG"
            (0x000e_8cd0_f9cb, "Siemens AG"),
            // s7comm/s7comm_reading_plc_status.pcap; tshark "Siemens AG," (IEEE's trailing comma)
            (0x001b_1b23_eb3b, "Siemens AG"),
            // s7comm/s7comm_clean.pcap; tshark "Siemens Numerical Control Ltd., Nanjing"
            (0x001c_061c_69e4, "Siemens Numerical Control Ltd., Nanjing"),
            // profinet/profinet_io_cm_control.pcapng; tshark "Siemens AG"
            (0x2863_3609_c364, "Siemens AG"),
            // enip/EthernetIP-CIP.pcap, enip/enip_cip_example.pcap; tshark "Rockwell Automation"
            (0x0000_bc5f_48fa, "Rockwell Automation"),
            (0x001d_9cc5_13dd, "Rockwell Automation"),
            (0x34c0_f9fe_656b, "Rockwell Automation"),
            // modbus/modicon_test.pcap; tshark "Schneider Electric"
            (0x0000_5414_f24f, "Schneider Electric"),
            // modbus/ModbusTCP.pcap; tshark "Schneider Electric", IEEE still lists Elau AG
            (0x0004_1702_2388, "Elau AG"),
            // cdp/cdp-v1.pcap; tshark "Cisco Systems, Inc"
            (0x00e0_1ed5_d515, "Cisco Systems, Inc"),
            // modbus/modbus_test.pcap; tshark "Moxa Technologies Corp., Ltd."; IEEE all caps
            (0x0090_e84c_83db, "Moxa Technologies CORP., LTD."),
            // profinet/profinet_io_cm_control.pcapng
            (0x00a0_4542_77e5, "PHOENIX CONTACT Electronics GmbH"),
            (0x0030_de06_825f, "WAGO Kontakttechnik GmbH"),
            (0x0002_a22b_547f, "Hilscher GmbH"),
            // other-ics/beckhoff-addroute1.pcapng
            (0x0001_050d_7560, "Beckhoff Automation GmbH"),
            // iec61850/GOOSE.pcap; tshark "Ge": short all-caps words keep their case here
            (0x00a0_f408_2f77, "GE"),
            // dnp3/dnp3_udp_select_operate.pcap: IAB 00-50-C2-4F-9 inside the IEEE RA's
            // 00-50-C2 block; tshark "RTDSTech_04:64"
            (0x0050_c24f_9464, "RTDS Technologies Inc."),
        ];
        for &(m, want) in cases {
            assert_eq!(vendor(mac(m)), Some(want), "{}", mac(m));
        }
    }

    #[test]
    fn no_vendor() {
        for m in [
            0x0200_4c4f_4f50, // locally administered, iec104/090813_diverse.pcap
            0x0abb_fe10_c902, // locally administered, iec61850/Sample_File_GOOSE.pcap
            0x0180_c200_000e, // group (LLDP), though 00-80-C2 is an assigned MA-L
            0x0100_5e00_00fb, // group (IPv4 multicast), though 00-00-5E is assigned
            0xffff_ffff_ffff, // broadcast
            0x0000_0000_0000, // all-zero, though 00-00-00 is assigned to Xerox
            0x0001_0100_0001, // "Private" MA-L, iec61850/iec61850_get_name_list.pcap
            0x0050_c204_4000, // unassigned IAB slot in the IEEE RA's block
            0x0050_c2f5_8000, // IAB held by the IEEE RA itself
            0x00ff_e60f_408d, // unassigned MA-L, s7comm/step7_s300_download.pcapng
        ] {
            assert_eq!(vendor(mac(m)), None, "{}", mac(m));
        }
    }

    #[test]
    fn ma_m_assignments() {
        // Two neighbouring MA-M blocks in 50-62-55, each with its own assignee.
        assert_eq!(vendor(mac(0x5062_55a1_2345)), Some("CCTV Manufacturer"));
        assert_eq!(vendor(mac(0x5062_5501_2345)), Some("Ufanet SC"));
    }

    #[test]
    fn longest_prefix_wins() {
        let t = Table::parse(
            "# test\n001122\t24\tBig\n0011223\t28\tMedium\n001122345\t36\tSmall\n\
             bad line\n00112\t24\tshort hex\n+01122\t24\tsign\nZZZZZZ\t24\tnot hex\n001133\t32\tbad bits\n",
        );
        assert_eq!(t.lookup(mac(0x0011_2234_5678)), Some("Small"));
        assert_eq!(t.lookup(mac(0x0011_2233_0000)), Some("Medium"));
        assert_eq!(t.lookup(mac(0x0011_2200_0000)), Some("Big"));
        assert_eq!(t.lookup(mac(0x0011_3300_0000)), None);
        assert_eq!(t.0.iter().map(Vec::len).sum::<usize>(), 3);
    }

    #[test]
    fn embedded_table_is_well_formed() {
        let lines = TABLE_TSV.lines().filter(|l| !l.starts_with('#')).count();
        let t = Table::parse(TABLE_TSV);
        // Every line parsed and no prefix repeats within a length.
        assert_eq!(t.0.iter().map(Vec::len).sum::<usize>(), lines);
        assert!(lines > 40_000, "{lines} assignments");
        for (_, name) in t.0.iter().flatten() {
            assert!(!name.is_empty() && name.trim() == *name, "{name:?}");
            assert!(!name.chars().any(char::is_control), "{name:?}");
        }
    }

    #[test]
    fn source_matches_table_header() {
        let header = TABLE_TSV.lines().next().unwrap_or_default();
        let version = header
            .split_whitespace()
            .skip_while(|w| *w != "ieee-data")
            .nth(1)
            .unwrap_or_default()
            .trim_end_matches(',');
        assert!(!version.is_empty(), "{header}");
        assert!(OUI_SOURCE.contains(version), "{OUI_SOURCE} vs {header}");
    }

    /// Cost report, run with `--nocapture`; timings are printed, never asserted.
    #[test]
    fn parse_and_lookup_cost() {
        let start = Instant::now();
        let t = Table::parse(TABLE_TSV);
        let parse = start.elapsed();
        // Every assigned block once (all hits), then scattered unicast addresses (mostly misses).
        let hits =
            t.0.iter()
                .zip(BITS)
                .flat_map(|(list, bits)| list.iter().map(move |e| mac(e.0 << (48 - bits))));
        let scattered = (0..20_000u64)
            .map(|i| mac(i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 16 & 0xfcff_ffff_ffff));
        let macs: Vec<Mac> = hits.chain(scattered).collect();
        let start = Instant::now();
        let found = macs.iter().filter(|m| t.lookup(**m).is_some()).count();
        let lookup = start.elapsed();
        println!(
            "oui: parsed {} entries in {parse:?}; {} lookups ({found} found) in {lookup:?}, {:?} each",
            t.0.iter().map(Vec::len).sum::<usize>(),
            macs.len(),
            lookup / u32::try_from(macs.len()).unwrap_or(u32::MAX),
        );
    }
}
