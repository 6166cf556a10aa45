//! The XDP side of AF_XDP: an XSKMAP, a five-instruction program that redirects every frame to
//! the socket of its receive queue, and a BPF link that keeps it attached while we hold its fd.
//!
//! Everything goes through the raw `bpf(2)` syscall; the `bpf_attr` layouts below are the
//! prefixes of the unions in include/uapi/linux/bpf.h that the commands we use read. The kernel
//! zero-fills whatever lies past the size we pass, so a prefix is a valid attr.

use super::super::live::{LiveError, AF_XDP_CAPS};
use super::{capabilities_effective, memlock_finite, XdpAttach};
use std::ffi::CString;
use std::io;
use std::mem::size_of;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

// enum bpf_cmd (include/uapi/linux/bpf.h).
const BPF_MAP_CREATE: libc::c_long = 0;
const BPF_MAP_UPDATE_ELEM: libc::c_long = 2;
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_LINK_CREATE: libc::c_long = 28;
// enum bpf_map_type, enum bpf_prog_type, enum bpf_attach_type.
const BPF_MAP_TYPE_XSKMAP: u32 = 17;
const BPF_PROG_TYPE_XDP: u32 = 6;
const BPF_XDP: u32 = 37;
// XDP_FLAGS_* (include/uapi/linux/if_link.h).
const XDP_FLAGS_SKB_MODE: u32 = 1 << 1;
const XDP_FLAGS_DRV_MODE: u32 = 1 << 2;
/// enum xdp_action: XDP_PASS.
pub(super) const XDP_PASS: i32 = 2;
/// enum bpf_func_id: BPF_FUNC_redirect_map.
pub(super) const BPF_FUNC_REDIRECT_MAP: i32 = 51;
/// `src_reg` of an `ld_imm64` whose immediate is a map fd (BPF_PSEUDO_MAP_FD).
const BPF_PSEUDO_MAP_FD: u8 = 1;
/// Offset of `rx_queue_index` in `struct xdp_md` (data, data_end, data_meta, ingress_ifindex,
/// rx_queue_index: five u32).
pub(super) const XDP_MD_RX_QUEUE_INDEX: i16 = 16;

/// `struct bpf_insn`: opcode, dst_reg (low nibble) and src_reg (high nibble), offset, immediate.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Insn {
    pub code: u8,
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

impl Insn {
    const fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        Insn {
            code,
            regs: (src << 4) | (dst & 0x0f),
            off,
            imm,
        }
    }
}

// Opcodes (Documentation/bpf/standardization/instruction-set.rst).
const LDX_MEM_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const LD_IMM_DW: u8 = 0x18; // BPF_LD | BPF_IMM | BPF_DW
const ALU64_MOV_K: u8 = 0xb7; // BPF_ALU64 | BPF_MOV | BPF_K
const JMP_CALL: u8 = 0x85; // BPF_JMP | BPF_CALL
const JMP_EXIT: u8 = 0x95; // BPF_JMP | BPF_EXIT

/// The program, for map fd `map_fd`:
/// ```text
/// r2 = *(u32 *)(r1 + 16)      ; ctx->rx_queue_index
/// r1 = map_fd ll              ; ld_imm64, BPF_PSEUDO_MAP_FD (two slots)
/// r3 = XDP_PASS               ; flags: action when the map has no socket for this queue
/// call bpf_redirect_map
/// exit                        ; r0 = XDP_REDIRECT or XDP_PASS
/// ```
/// Frames on queues without a socket go on to the kernel stack untouched: the sensor only
/// observes.
pub(super) fn program(map_fd: RawFd) -> [Insn; 6] {
    [
        Insn::new(LDX_MEM_W, 2, 1, XDP_MD_RX_QUEUE_INDEX, 0),
        Insn::new(LD_IMM_DW, 1, BPF_PSEUDO_MAP_FD, 0, map_fd),
        Insn::new(0, 0, 0, 0, 0),
        Insn::new(ALU64_MOV_K, 3, 0, 0, XDP_PASS),
        Insn::new(JMP_CALL, 0, 0, 0, BPF_FUNC_REDIRECT_MAP),
        Insn::new(JMP_EXIT, 0, 0, 0, 0),
    ]
}

/// `bpf_attr` for BPF_MAP_CREATE, up to `map_name`.
#[repr(C)]
#[derive(Default)]
struct MapCreateAttr {
    map_type: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    map_flags: u32,
    inner_map_fd: u32,
    numa_node: u32,
    map_name: [u8; 16],
}

/// `bpf_attr` for BPF_MAP_UPDATE_ELEM.
#[repr(C)]
#[derive(Default)]
struct MapElemAttr {
    map_fd: u32,
    _pad: u32,
    key: u64,
    value: u64,
    flags: u64,
}

/// `bpf_attr` for BPF_PROG_LOAD, up to `expected_attach_type`.
#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// `bpf_attr` for BPF_LINK_CREATE, up to `flags`.
#[repr(C)]
#[derive(Default)]
struct LinkCreateAttr {
    prog_fd: u32,
    target_ifindex: u32,
    attach_type: u32,
    flags: u32,
}

/// Calls `bpf(cmd, attr, sizeof attr)`; a non-negative result is returned as is.
fn sys_bpf<T>(cmd: libc::c_long, attr: &mut T) -> io::Result<libc::c_long> {
    // SAFETY: `attr` is a live, exclusively borrowed `#[repr(C)]` prefix of `union bpf_attr`
    // for `cmd`, and we pass its exact size; any pointers inside it (instructions, licence,
    // log buffer, key, value) point to memory that outlives this call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T as *mut libc::c_void,
            size_of::<T>() as libc::c_uint,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// Wraps a file descriptor the kernel just returned.
fn owned_fd(r: libc::c_long) -> io::Result<OwnedFd> {
    let fd = RawFd::try_from(r).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
    // SAFETY: `fd` was just returned by a successful bpf() call that creates a new descriptor
    // (O_CLOEXEC, like every bpf fd); nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Which XDP mode the program ended up in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachedMode {
    /// In the driver (XDP_FLAGS_DRV_MODE): before any skb is built.
    Native,
    /// After the skb is built (XDP_FLAGS_SKB_MODE): works on every interface, slower.
    Generic,
}

impl AttachedMode {
    pub fn as_str(self) -> &'static str {
        match self {
            AttachedMode::Native => "native",
            AttachedMode::Generic => "generic",
        }
    }
}

/// The XDP program of one interface, with its XSKMAP and the link that attaches it.
///
/// Dropping it closes the link (the kernel detaches the program), then the program and the map.
/// The kernel also closes them if the process dies, even by SIGKILL, because a BPF link lives
/// exactly as long as its last fd. Sockets may be dropped before or after: closing a socket
/// removes it from the map, and a socket whose program is gone simply receives nothing.
#[derive(Debug)]
pub struct XdpProgram {
    // Declaration order is drop order: detach first, then free the program, then the map.
    _link: OwnedFd,
    _prog: OwnedFd,
    map: OwnedFd,
    interface: String,
    ifindex: u32,
    queues: u32,
    mode: AttachedMode,
}

impl XdpProgram {
    /// Creates the map (one slot per queue), loads the program and attaches it to `interface`.
    pub fn attach(interface: &str, queues: u32, how: XdpAttach) -> Result<XdpProgram, LiveError> {
        let ifindex = super::super::live::ifindex(interface)?;
        let queues = queues.max(1);
        let map = create_xskmap(queues)?;
        let prog = load_program(interface, &map)?;
        let (link, mode) = match how {
            XdpAttach::Native => (link(interface, ifindex, &prog, AttachedMode::Native)?, AttachedMode::Native),
            XdpAttach::Generic => (link(interface, ifindex, &prog, AttachedMode::Generic)?, AttachedMode::Generic),
            XdpAttach::Auto => match link(interface, ifindex, &prog, AttachedMode::Native) {
                Ok(l) => (l, AttachedMode::Native),
                // Missing privileges or another program: generic would fail the same way.
                Err(e @ (LiveError::Permission { .. } | LiveError::Busy { .. })) => return Err(e),
                Err(native) => match link(interface, ifindex, &prog, AttachedMode::Generic) {
                    Ok(l) => {
                        tracing::debug!(%interface, reason = %native, "native XDP unavailable, using generic");
                        (l, AttachedMode::Generic)
                    }
                    Err(generic) => {
                        return Err(LiveError::Unsupported {
                            interface: interface.to_string(),
                            detail: format!("cannot attach XDP in native mode ({native}) nor in generic mode ({generic}); use --capture af_packet"),
                        })
                    }
                },
            },
        };
        Ok(XdpProgram {
            _link: link,
            _prog: prog,
            map,
            interface: interface.to_string(),
            ifindex,
            queues,
            mode,
        })
    }

    /// Points queue `queue` at AF_XDP socket `xsk_fd` (BPF_MAP_UPDATE_ELEM on the XSKMAP).
    pub(super) fn insert(&self, queue: u32, xsk_fd: RawFd) -> Result<(), LiveError> {
        if queue >= self.queues {
            return Err(LiveError::Unsupported {
                interface: self.interface.clone(),
                detail: format!(
                    "queue {queue} is outside the XDP program's map of {} queues",
                    self.queues
                ),
            });
        }
        let key = queue;
        let value = u32::try_from(xsk_fd).map_err(|_| LiveError::Os {
            op: "XSKMAP update".into(),
            source: io::Error::from_raw_os_error(libc::EBADF),
        })?;
        let mut attr = MapElemAttr {
            map_fd: self.map.as_raw_fd() as u32,
            key: &key as *const u32 as u64,
            value: &value as *const u32 as u64,
            ..Default::default()
        };
        sys_bpf(BPF_MAP_UPDATE_ELEM, &mut attr)
            .map(drop)
            .map_err(|e| {
                LiveError::os(
                    format!(
                        "adding the AF_XDP socket of {} queue {queue} to the XSKMAP",
                        self.interface
                    ),
                    AF_XDP_CAPS,
                    e,
                )
            })
    }

    pub fn interface(&self) -> &str {
        &self.interface
    }

    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Number of queues the map has a slot for.
    pub fn queues(&self) -> u32 {
        self.queues
    }

    pub fn mode(&self) -> AttachedMode {
        self.mode
    }
}

fn create_xskmap(queues: u32) -> Result<OwnedFd, LiveError> {
    let mut name = [0u8; 16];
    name[..12].copy_from_slice(b"otwatch_xsks");
    let mut attr = MapCreateAttr {
        map_type: BPF_MAP_TYPE_XSKMAP,
        key_size: 4,
        value_size: 4,
        max_entries: queues,
        map_name: name,
        ..Default::default()
    };
    let op = "creating the XSKMAP (bpf BPF_MAP_CREATE)";
    match sys_bpf(BPF_MAP_CREATE, &mut attr) {
        Ok(fd) => owned_fd(fd).map_err(|e| LiveError::Os {
            op: op.into(),
            source: e,
        }),
        Err(e) => Err(map_create_error(op, e, has_bpf_caps(), memlock_finite())),
    }
}

/// Before Linux 5.11 maps were charged to RLIMIT_MEMLOCK and a privileged process over the
/// limit got EPERM; since then memory cgroups account them and EPERM means missing capability.
pub(super) fn map_create_error(
    op: &str,
    e: io::Error,
    has_caps: bool,
    memlock_finite: bool,
) -> LiveError {
    match e.raw_os_error() {
        Some(libc::EPERM) if has_caps && memlock_finite => LiveError::MemLock {
            op: op.into(),
            source: e,
        },
        Some(libc::ENOMEM) if memlock_finite => LiveError::MemLock {
            op: op.into(),
            source: e,
        },
        Some(libc::EINVAL) => LiveError::Unsupported {
            interface: "kernel".into(),
            detail: format!("{op} failed ({e}): this kernel has no XSKMAP (needs Linux 4.18+ with CONFIG_XDP_SOCKETS)"),
        },
        _ => LiveError::os(op, AF_XDP_CAPS, e),
    }
}

/// CAP_BPF (39) or CAP_SYS_ADMIN (21) in the effective set.
fn has_bpf_caps() -> bool {
    capabilities_effective().is_some_and(|c| c & ((1 << 39) | (1 << 21)) != 0)
}

fn load_program(interface: &str, map: &OwnedFd) -> Result<OwnedFd, LiveError> {
    let insns = program(map.as_raw_fd());
    // bpf_redirect_map is not GPL-only, but the licence string is required; ours is Apache-2.0.
    let license = CString::new("Apache-2.0").map_err(|e| LiveError::Os {
        op: "program licence".into(),
        source: io::Error::new(io::ErrorKind::InvalidInput, e),
    })?;
    let mut log = vec![0u8; 64 * 1024];
    let mut name = [0u8; 16];
    name[..11].copy_from_slice(b"otwatch_xsk");
    let mut attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_XDP,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: 1,
        log_size: log.len() as u32,
        log_buf: log.as_mut_ptr() as u64,
        prog_name: name,
        expected_attach_type: BPF_XDP,
        ..Default::default()
    };
    let op = "loading the XDP program (bpf BPF_PROG_LOAD)";
    match sys_bpf(BPF_PROG_LOAD, &mut attr) {
        Ok(fd) => owned_fd(fd).map_err(|e| LiveError::Os {
            op: op.into(),
            source: e,
        }),
        Err(e)
            if matches!(e.raw_os_error(), Some(libc::EPERM | libc::EACCES)) && !has_bpf_caps() =>
        {
            Err(LiveError::os(op, AF_XDP_CAPS, e))
        }
        Err(e) => {
            let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
            let text = String::from_utf8_lossy(log.get(..end).unwrap_or(&[]));
            let text = text.trim();
            Err(LiveError::Unsupported {
                interface: interface.to_string(),
                detail: format!(
                    "the kernel rejected the XDP program ({e}); verifier log: {}",
                    if text.is_empty() { "(empty)" } else { text }
                ),
            })
        }
    }
}

fn link(
    interface: &str,
    ifindex: u32,
    prog: &OwnedFd,
    mode: AttachedMode,
) -> Result<OwnedFd, LiveError> {
    let mut attr = LinkCreateAttr {
        prog_fd: prog.as_raw_fd() as u32,
        target_ifindex: ifindex,
        attach_type: BPF_XDP,
        flags: match mode {
            AttachedMode::Native => XDP_FLAGS_DRV_MODE,
            AttachedMode::Generic => XDP_FLAGS_SKB_MODE,
        },
    };
    let op = format!(
        "attaching the XDP program to {interface} in {} mode (bpf BPF_LINK_CREATE)",
        mode.as_str()
    );
    match sys_bpf(BPF_LINK_CREATE, &mut attr) {
        Ok(fd) => owned_fd(fd).map_err(|e| LiveError::Os { op, source: e }),
        Err(e) => Err(link_error(interface, mode, &op, e)),
    }
}

/// Explains a failed BPF_LINK_CREATE.
pub(super) fn link_error(interface: &str, mode: AttachedMode, op: &str, e: io::Error) -> LiveError {
    match e.raw_os_error() {
        // EBUSY: a program is attached already; EEXIST: one in the other mode (the kernel
        // refuses native and generic on one interface at the same time).
        Some(libc::EBUSY | libc::EEXIST) => LiveError::Busy {
            interface: interface.to_string(),
            queue: 0,
            source: e,
        },
        Some(libc::EOPNOTSUPP | libc::EINVAL | libc::ENODEV) => LiveError::Unsupported {
            interface: interface.to_string(),
            detail: match mode {
                AttachedMode::Native => format!("the driver has no native XDP support ({e}); attach in generic mode instead, or use --capture af_packet"),
                AttachedMode::Generic => format!("generic XDP cannot attach ({e}); the kernel may lack BPF links for XDP (Linux 5.9+); use --capture af_packet"),
            },
        },
        _ => LiveError::os(op, AF_XDP_CAPS, e),
    }
}
