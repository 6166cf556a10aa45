//! CIP vendor ids (Identity object attribute 1, CIP Vol. 1 §5-2.2.1.1), assigned by ODVA.
//!
//! A compact table of common industrial vendors, not the whole registry. Every name is
//! spelled as Wireshark 4.0's CIP dissector shows it (`tshark -G values`, field
//! `enip.lir.vendor`), so a value here can be checked against `tshark -T fields -e
//! enip.lir.vendor` on the same packet. Ids not listed are reported as "vendor id N".

/// (vendor id, name), sorted by id for binary search.
const VENDORS: &[(u16, &str)] = &[
    (1, "Rockwell Automation/Allen-Bradley"),
    (3, "Honeywell Inc."),
    (5, "Rockwell Automation/Reliance Elec."),
    (7, "SMC Corporation"),
    (8, "Molex Incorporated"),
    (12, "Banner Engineering Corp."),
    (26, "Festo Corporation"),
    (40, "Wago Corporation"),
    (43, "BALLUFF, Inc."),
    (44, "Yaskawa Electric America, Inc."),
    (46, "ABB Industrial Systems"),
    (47, "Omron Corporation"),
    (48, "TURCk, Inc."),
    (50, "Real Time Automation (C&ID)"),
    (57, "Pepperl + Fuchs"),
    (58, "Spectrum Controls, Inc."),
    (68, "Eaton Electrical"),
    (82, "Mitsubishi Electric Automation, Inc."),
    (83, "OPTO-22"),
    (90, "HMS Industrial Networks AB"),
    (94, "Advantech Co. Ltd."),
    (97, "Danfoss"),
    (108, "Beckhoff Automation GmbH"),
    (119, "EXOR Electronic R & D"),
    (121, "KUKA Roboter GmbH"),
    (145, "Siemens Energy & Automation/Drives"),
    (161, "Mitsubishi Electric Corporation"),
    (171, "Denso Wave Incorporated"),
    (176, "Red Lion Controls"),
    (181, "Pilz GmbH & Co"),
    (243, "Schneider Automation, Inc."),
    (250, "Yokogawa Electric Corporation"),
    (255, "Bosch Rexroth"),
    (283, "Hilscher GmbH"),
    (309, "Prosoft Technology"),
    (315, "SEW Eurodrive GmbH"),
    (319, "Fuji Electric Co., Ltd."),
    (322, "ifm efector, inc."),
    (326, "GE Fanuc Automation North America, Inc."),
    (344, "KEBA AG"),
    (356, "Fanuc Robotics America"),
    (367, "Keyence Corporation"),
    (445, "Lenze Drive Systems GmbH"),
    (482, "Koyo Electronics"),
    (562, "Phoenix Contact"),
    (591, "FANUC Ltd."),
    (634, "Hirschmann, Inc."),
    (640, "Murrelektronik GmbH"),
    (660, "Automationdirect.com"),
    (678, "Cognex Corporation"),
    (808, "SICK AG"),
    (887, "B&R Industrial Automation GmbH"),
    (903, "Emerson Process Management Power & Water Solutions"),
    (939, "Cisco Systems"),
    (991, "Moxa Networking Co., Ltd."),
    (1006, "N-Tron"),
    (1015, "Weidmueller Interface GmbH & Co. KG"),
    (1059, "Delta Electronic Inc."),
];

/// The vendor's name for a CIP vendor id, when it is in the table.
pub fn vendor_name(id: u16) -> Option<&'static str> {
    VENDORS
        .binary_search_by_key(&id, |&(v, _)| v)
        .ok()
        .and_then(|i| VENDORS.get(i))
        .map(|&(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_and_found() {
        assert!(VENDORS.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(vendor_name(1), Some("Rockwell Automation/Allen-Bradley"));
        assert_eq!(vendor_name(283), Some("Hilscher GmbH"));
        assert_eq!(vendor_name(1059), Some("Delta Electronic Inc."));
        assert_eq!(vendor_name(0), None);
        assert_eq!(vendor_name(2), None);
        assert_eq!(vendor_name(u16::MAX), None);
    }
}
