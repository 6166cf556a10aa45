use super::bpf::{
    link_error, map_create_error, program, AttachedMode, Insn, BPF_FUNC_REDIRECT_MAP, XDP_PASS,
};
use super::socket::frame_range;
use super::*;

fn errno(n: i32) -> io::Error {
    io::Error::from_raw_os_error(n)
}

#[test]
fn program_is_the_five_instruction_redirect() {
    let p = program(7);
    let want = [
        // r2 = *(u32 *)(r1 + 16): ldxw, dst r2, src r1
        Insn {
            code: 0x61,
            regs: 0x12,
            off: 16,
            imm: 0,
        },
        // r1 = map fd 7 (ld_imm64, src BPF_PSEUDO_MAP_FD = 1), upper half zero
        Insn {
            code: 0x18,
            regs: 0x11,
            off: 0,
            imm: 7,
        },
        Insn {
            code: 0,
            regs: 0,
            off: 0,
            imm: 0,
        },
        // r3 = XDP_PASS
        Insn {
            code: 0xb7,
            regs: 0x03,
            off: 0,
            imm: 2,
        },
        // call bpf_redirect_map (51)
        Insn {
            code: 0x85,
            regs: 0,
            off: 0,
            imm: 51,
        },
        Insn {
            code: 0x95,
            regs: 0,
            off: 0,
            imm: 0,
        },
    ];
    assert_eq!(p, want);
    assert_eq!((XDP_PASS, BPF_FUNC_REDIRECT_MAP), (2, 51));
    assert_eq!(std::mem::size_of::<Insn>(), 8);
}

#[test]
fn permission_errors_name_cap_bpf() {
    for e in [libc::EPERM, libc::EACCES] {
        let err = link_error("eth1", AttachedMode::Native, "attach", errno(e));
        assert!(err.is_permission(), "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains("CAP_BPF") && msg.contains("CAP_NET_ADMIN"),
            "{msg}"
        );
    }
    // Without CAP_BPF, EPERM from map creation is a permission problem even with a finite
    // memlock limit; with it (and a limit) it is the pre-5.11 memlock accounting.
    let err = map_create_error("map", errno(libc::EPERM), false, true);
    assert!(err.to_string().contains("CAP_BPF"), "{err}");
    let err = map_create_error("map", errno(libc::EPERM), true, true);
    assert!(matches!(err, LiveError::MemLock { .. }), "{err}");
    assert!(err.to_string().contains("LimitMEMLOCK"), "{err}");
    let err = map_create_error("map", errno(libc::EPERM), true, false);
    assert!(err.is_permission(), "{err}");
}

#[test]
fn attach_errors_say_what_to_do() {
    let busy = link_error("eth1", AttachedMode::Native, "attach", errno(libc::EBUSY));
    assert!(matches!(busy, LiveError::Busy { .. }), "{busy}");
    let other_mode = link_error("eth1", AttachedMode::Generic, "attach", errno(libc::EEXIST));
    assert!(matches!(other_mode, LiveError::Busy { .. }), "{other_mode}");
    let native = link_error(
        "eth1",
        AttachedMode::Native,
        "attach",
        errno(libc::EOPNOTSUPP),
    );
    assert!(native.to_string().contains("generic mode"), "{native}");
    let other = link_error("eth1", AttachedMode::Native, "attach", errno(libc::EIO));
    assert!(matches!(other, LiveError::Os { .. }), "{other}");
}

#[test]
fn config_check_rejects_what_the_kernel_would() {
    let ok = XdpConfig {
        interface: "eth1".into(),
        ..Default::default()
    };
    assert!(ok.check().is_ok());
    for bad in [
        XdpConfig {
            frame_size: 3000,
            ..ok.clone()
        },
        XdpConfig {
            frame_size: 1024,
            ..ok.clone()
        },
        XdpConfig {
            ring_size: 1000,
            ..ok.clone()
        },
        XdpConfig {
            frames: 1024,
            ..ok.clone()
        },
        XdpConfig {
            batch: 0,
            ..ok.clone()
        },
        XdpConfig {
            batch: 4096,
            ..ok.clone()
        },
    ] {
        let e = bad.check().expect_err("must be rejected");
        assert!(e.to_string().contains("eth1"), "{e}");
    }
}

#[test]
fn capabilities_parse() {
    // Whatever the privileges, /proc/self/status has a CapEff line.
    assert!(capabilities_effective().is_some());
}

#[test]
fn loopback_addresses_are_found_and_unknown_interfaces_have_none() {
    let lo = super::host_addresses("lo");
    assert!(
        lo.contains(&std::net::IpAddr::from([127, 0, 0, 1])),
        "{lo:?}"
    );
    assert!(super::host_addresses("no-such-if0").is_empty());
}

#[test]
fn a_descriptor_is_lent_only_inside_its_own_chunk() {
    let (fs, umem) = (2048u64, 4 * 2048u64);
    // Frames after the kernel's 256 bytes of headroom, up to the chunk's last byte.
    assert_eq!(frame_range(256, 60, fs, umem), Some(256..316));
    assert_eq!(frame_range(2048 + 256, 1792, fs, umem), Some(2304..4096));
    assert_eq!(frame_range(3 * 2048 + 256, 0, fs, umem), Some(6400..6400));
    // One byte into the next chunk (which may sit in the fill ring), or past the UMEM.
    assert_eq!(frame_range(2048 + 256, 1793, fs, umem), None);
    assert_eq!(frame_range(3 * 2048 + 256, 1793, fs, umem), None);
    assert_eq!(frame_range(umem, 1, fs, umem), None);
    assert_eq!(frame_range(u64::MAX - 10, u32::MAX, fs, umem), None);
}
