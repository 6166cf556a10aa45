//! ARP: who owns which IP, and who claims what is not theirs (RFC 826 sender pairs).
//!
//! - **Conflict or spoofing**: an IP claimed by a second MAC while its owner is still active.
//!   It is spoofing when the newcomer pushes its claim with repeated replies (an ARP poisoner
//!   refreshes the victim's cache every second or two) or claims the IPs of two or more other
//!   devices (the two halves of a man-in-the-middle). When the newcomer uses the address in
//!   its own requests, two devices share it: an IP conflict.
//! - **Gratuitous storm**: one MAC announcing itself far faster than any stack does.
//! - **Sweep**: one MAC asking for many IPs in seconds (`nmap -sn`, `arp-scan`).
//!
//! Ownership is per VLAN: the same address held by two devices on two VLANs (cells that reuse
//! one range behind one SPAN port) is no conflict.
//!
//! State is bounded: IPs and MACs tracked at once are capped, the quietest dropped first.

use crate::decode::Lan;
use crate::hash::{Map, Set};
use otwatch_common::{Mac, Timestamp};
use std::net::Ipv4Addr;

/// Thresholds of the ARP watch.
#[derive(Debug, Clone, Copy)]
pub struct ArpLimits {
    /// An owner seen within this long still holds its IP (longer: the IP moved).
    pub hold_ns: u64,
    /// Replies claiming someone else's IP within `window_ns` that make it spoofing.
    pub spoof_replies: u32,
    pub window_ns: u64,
    /// Gratuitous ARPs from one MAC within 10 s that make a storm.
    pub storm: u32,
    /// Distinct IPs asked for by one MAC within 10 s that make a sweep.
    pub sweep: usize,
    /// IPs and MACs tracked at once.
    pub max_entries: usize,
}

impl Default for ArpLimits {
    fn default() -> Self {
        ArpLimits {
            hold_ns: 600_000_000_000,
            spoof_replies: 5,
            window_ns: 60_000_000_000,
            storm: 50,
            sweep: 64,
            max_entries: 1 << 16,
        }
    }
}

const TEN_SECONDS: u64 = 10_000_000_000;

/// One ARP packet's content.
#[derive(Debug, Clone, Copy)]
pub struct ArpFrame {
    pub ts: Timestamp,
    pub reply: bool,
    pub sender_mac: Mac,
    pub sender_ip: Ipv4Addr,
    pub target_ip: Ipv4Addr,
    /// The Ethernet destination.
    pub eth_dst: Option<Mac>,
    /// Capture segment and 802.1Q VLAN: one address on two of them is two hosts.
    pub lan: Lan,
}

/// What the watch found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// `claimer` claimed `ip`, which `owner` holds.
    Spoofing {
        ip: Ipv4Addr,
        owner: Mac,
        claimer: Mac,
        replies: u32,
        /// Other devices' IPs the claimer also claimed.
        others: Vec<Ipv4Addr>,
    },
    Conflict {
        ip: Ipv4Addr,
        owner: Mac,
        claimer: Mac,
    },
    Storm {
        mac: Mac,
        count: u32,
    },
    Sweep {
        mac: Mac,
        ip: Ipv4Addr,
        targets: usize,
    },
}

#[derive(Debug)]
struct Owner {
    mac: Mac,
    last: Timestamp,
}

#[derive(Debug, Default)]
struct MacState {
    last: Timestamp,
    /// IPs of other owners this MAC claimed recently, with reply counts.
    foreign: Map<Ipv4Addr, (Timestamp, u32)>,
    storm_start: Timestamp,
    storm: u32,
    sweep_start: Timestamp,
    asked: Set<Ipv4Addr>,
}

/// IP ownership as ARP shows it.
#[derive(Debug, Default)]
pub struct ArpWatch {
    /// By (VLAN, IP).
    owners: Map<(Lan, Ipv4Addr), Owner>,
    macs: Map<Mac, MacState>,
}

impl ArpWatch {
    /// Handles one ARP packet; returns what it revealed.
    pub fn frame(&mut self, lim: &ArpLimits, f: &ArpFrame, out: &mut Vec<Finding>) {
        if !f.sender_mac.is_unicast() {
            return;
        }
        self.bound(lim, f.ts);
        let m = self.macs.entry(f.sender_mac).or_default();
        m.last = m.last.max(f.ts);
        // Gratuitous: the sender announces its own IP (target = sender), or replies to all.
        let gratuitous = !f.sender_ip.is_unspecified()
            && (f.sender_ip == f.target_ip || (f.reply && f.eth_dst == Some(Mac::BROADCAST)));
        if gratuitous {
            if f.ts.0 > m.storm_start.0.saturating_add(TEN_SECONDS) {
                m.storm_start = f.ts;
                m.storm = 0;
            }
            m.storm += 1;
            if m.storm >= lim.storm {
                out.push(Finding::Storm {
                    mac: f.sender_mac,
                    count: m.storm,
                });
            }
        }
        if !f.reply && f.sender_ip != f.target_ip {
            if f.ts.0 > m.sweep_start.0.saturating_add(TEN_SECONDS) {
                m.sweep_start = f.ts;
                m.asked.clear();
            }
            if m.asked.len() <= lim.sweep {
                m.asked.insert(f.target_ip);
            }
            if m.asked.len() >= lim.sweep {
                out.push(Finding::Sweep {
                    mac: f.sender_mac,
                    ip: f.sender_ip,
                    targets: m.asked.len(),
                });
            }
        }
        // An address probe (RFC 5227, sender 0.0.0.0) claims nothing.
        if f.sender_ip.is_unspecified() || f.sender_ip.is_broadcast() {
            return;
        }
        let owner = self.owners.get(&(f.lan, f.sender_ip));
        match owner {
            Some(o) if o.mac != f.sender_mac && f.ts.0 <= o.last.0.saturating_add(lim.hold_ns) => {
                let owner_mac = o.mac;
                let m = self.macs.entry(f.sender_mac).or_default();
                let e = m.foreign.entry(f.sender_ip).or_insert((f.ts, 0));
                if f.ts.0 > e.0 .0.saturating_add(lim.window_ns) {
                    *e = (f.ts, 0);
                }
                if f.reply {
                    e.1 += 1;
                }
                let replies = e.1;
                let mut others: Vec<Ipv4Addr> = m.foreign.keys().copied().collect();
                others.sort_unstable();
                if replies >= lim.spoof_replies || others.len() >= 2 {
                    others.retain(|ip| *ip != f.sender_ip);
                    out.push(Finding::Spoofing {
                        ip: f.sender_ip,
                        owner: owner_mac,
                        claimer: f.sender_mac,
                        replies,
                        others,
                    });
                } else if !f.reply {
                    // The newcomer uses the address in its own requests: it is configured
                    // with it. Replies alone wait for the spoofing threshold.
                    out.push(Finding::Conflict {
                        ip: f.sender_ip,
                        owner: owner_mac,
                        claimer: f.sender_mac,
                    });
                }
            }
            _ => {
                // First claim, the owner's own refresh, or the IP moved after a quiet hold.
                self.owners.insert(
                    (f.lan, f.sender_ip),
                    Owner {
                        mac: f.sender_mac,
                        last: f.ts,
                    },
                );
            }
        }
    }

    /// Keeps the tables under their cap by dropping entries quiet for longest.
    fn bound(&mut self, lim: &ArpLimits, now: Timestamp) {
        if self.owners.len() >= lim.max_entries {
            self.owners
                .retain(|_, o| now.0.saturating_sub(o.last.0) <= lim.hold_ns);
            if self.owners.len() >= lim.max_entries {
                let mut l: Vec<u64> = self.owners.values().map(|o| o.last.0).collect();
                let mid = l.len() / 2;
                l.select_nth_unstable(mid);
                let cut = l.get(mid).copied().unwrap_or(0);
                self.owners.retain(|_, o| o.last.0 > cut);
            }
        }
        if self.macs.len() >= lim.max_entries {
            self.macs
                .retain(|_, m| now.0.saturating_sub(m.last.0) <= lim.window_ns);
            if self.macs.len() >= lim.max_entries {
                let mut l: Vec<u64> = self.macs.values().map(|m| m.last.0).collect();
                let mid = l.len() / 2;
                l.select_nth_unstable(mid);
                let cut = l.get(mid).copied().unwrap_or(0);
                self.macs.retain(|_, m| m.last.0 > cut);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mac(n: u8) -> Mac {
        Mac([2, 0, 0, 0, 5, n])
    }

    fn f(s: u64, reply: bool, m: u8, ip: [u8; 4], target: [u8; 4]) -> ArpFrame {
        ArpFrame {
            ts: Timestamp::from_secs_nanos(1000, s * 200_000_000),
            reply,
            sender_mac: mac(m),
            sender_ip: Ipv4Addr::from(ip),
            target_ip: Ipv4Addr::from(target),
            eth_dst: Some(mac(10)),
            lan: Lan::NONE,
        }
    }

    #[test]
    fn poisoner_is_spoofing_and_a_second_user_is_a_conflict() {
        let lim = ArpLimits::default();
        let mut w = ArpWatch::default();
        let mut out = Vec::new();
        w.frame(
            &lim,
            &f(0, true, 1, [10, 0, 0, 1], [10, 0, 0, 10]),
            &mut out,
        );
        assert!(out.is_empty());
        for i in 1..=6 {
            w.frame(
                &lim,
                &f(i, true, 0x66, [10, 0, 0, 1], [10, 0, 0, 10]),
                &mut out,
            );
        }
        assert!(
            !out.iter().any(|x| matches!(x, Finding::Conflict { .. })),
            "a poisoner's replies are not a conflict"
        );
        assert!(
            matches!(out.last(), Some(Finding::Spoofing { replies: 5.., claimer, .. }) if *claimer == mac(0x66))
        );
        // A device that once uses an address another holds: a conflict, not spoofing.
        let mut out = Vec::new();
        w.frame(
            &lim,
            &f(10, false, 3, [10, 0, 0, 30], [10, 0, 0, 1]),
            &mut out,
        );
        w.frame(
            &lim,
            &f(11, false, 4, [10, 0, 0, 30], [10, 0, 0, 1]),
            &mut out,
        );
        assert_eq!(
            out,
            vec![Finding::Conflict {
                ip: Ipv4Addr::new(10, 0, 0, 30),
                owner: mac(3),
                claimer: mac(4)
            }]
        );
    }

    #[test]
    fn the_same_address_on_two_vlans_is_no_conflict() {
        let lim = ArpLimits::default();
        let mut w = ArpWatch::default();
        let mut out = Vec::new();
        for (i, vlan) in [10, 20, 10, 20].into_iter().enumerate() {
            let mut fr = f(i as u64, false, vlan as u8, [10, 0, 0, 30], [10, 0, 0, 1]);
            fr.lan = Lan::vlan(vlan);
            w.frame(&lim, &fr, &mut out);
        }
        assert!(out.is_empty(), "{out:?}");
        // On one VLAN it still is.
        let mut fr = f(5, false, 99, [10, 0, 0, 30], [10, 0, 0, 1]);
        fr.lan = Lan::vlan(10);
        w.frame(&lim, &fr, &mut out);
        assert!(matches!(out.as_slice(), [Finding::Conflict { .. }]));
    }

    #[test]
    fn storms_and_sweeps() {
        let lim = ArpLimits::default();
        let mut w = ArpWatch::default();
        let mut out = Vec::new();
        for i in 0..60 {
            w.frame(
                &lim,
                &f(i / 10, false, 7, [10, 0, 0, 7], [10, 0, 0, 7]),
                &mut out,
            );
        }
        assert!(out.iter().any(|x| matches!(x, Finding::Storm { .. })));
        let mut out = Vec::new();
        for i in 1..=100u8 {
            w.frame(
                &lim,
                &f(1, false, 8, [10, 0, 0, 8], [10, 0, 1, i]),
                &mut out,
            );
        }
        assert!(out
            .iter()
            .any(|x| matches!(x, Finding::Sweep { targets: 64, .. })));
    }
}
