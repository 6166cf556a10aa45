//! BACnet vendor identifiers (ASHRAE 135 clause 23; the registry ASHRAE publishes at
//! bacnet.org, "Assigned Vendor IDs"). A compact table of building-automation manufacturers,
//! each name checked against the copy of that registry in Wireshark 4.0
//! (`tshark -G values`, field `bacapp.vendor_identifier`). Registry entries for standards
//! bodies, universities and protocol stacks (0 ASHRAE, 1 NIST, 15 Cornell University, 260
//! BACnet Stack at SourceForge) are left out on purpose: they name no device maker.

/// (vendor identifier, registered name), sorted by identifier.
const VENDORS: &[(u16, &str)] = &[
    (2, "The Trane Company"),
    (3, "Daikin Applied Americas"),
    (4, "PolarSoft"),
    (5, "Johnson Controls, Inc."),
    (6, "ABB (Formerly American Auto-Matrix)"),
    (
        7,
        "Siemens Schweiz AG (Formerly: Landis & Staefa Division Europe)",
    ),
    (8, "Delta Controls"),
    (9, "Siemens Schweiz AG"),
    (10, "Schneider Electric"),
    (11, "TAC"),
    (14, "Cimetrics Technology"),
    (16, "United Technologies Carrier"),
    (17, "Honeywell Inc."),
    (18, "Alerton / Honeywell"),
    (19, "TAC AB"),
    (22, "Siemens Schweiz AG (Formerly: Cerberus AG)"),
    (23, "York Controls Group"),
    (24, "Automated Logic Corporation"),
    (26, "Phoenix Controls Corporation"),
    (28, "KMC Controls, Inc."),
    (35, "Reliable Controls Corporation"),
    (36, "Tridium Inc."),
    (39, "Kieback & Peter GmbH & Co KG"),
    (53, "DAIKIN Industries Ltd."),
    (80, "Fr. Sauter AG"),
    (105, "PRIVA BV"),
    (127, "ABB, Inc."),
    (178, "LOYTEC Electronics GmbH"),
    (197, "Bosch Building Automation GmbH"),
    (222, "WAGO Kontakttechnik GmbH & Co. KG"),
    (226, "Phoenix Contact GmbH & Co. KG"),
    (245, "Contemporary Control Systems, Inc."),
    (255, "Lennox International, Inc."),
    (284, "BELIMO Automation AG"),
    (313, "Siemens Industry, Inc."),
    (332, "Distech Controls SAS"),
    (335, "Schneider Electric"),
    (364, "Distech Controls Inc."),
    (389, "Chipkin Automation Systems"),
    (415, "Beckhoff Automation"),
    (432, "LG Electronics Inc."),
];

/// The registered name of a BACnet vendor identifier, when it is in the table.
pub fn name(id: u32) -> Option<&'static str> {
    let id = u16::try_from(id).ok()?;
    VENDORS
        .binary_search_by_key(&id, |&(v, _)| v)
        .ok()
        .and_then(|i| VENDORS.get(i))
        .map(|&(_, n)| n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_and_found() {
        assert!(VENDORS.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(name(5), Some("Johnson Controls, Inc."));
        assert_eq!(name(8), Some("Delta Controls"));
        assert_eq!(name(24), Some("Automated Logic Corporation"));
        assert_eq!(name(36), Some("Tridium Inc."));
        assert_eq!(name(260), None);
        assert_eq!(name(70_000), None);
    }
}
