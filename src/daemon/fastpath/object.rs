//! The compiled BPF object (bpf/fastpath.c, built by build.rs) embedded in
//! the binary, and why it is empty when clang was missing or failed.

/// The ELF parser reads 8-byte fields in place, so the bytes must be
/// 8-aligned (`include_bytes!` alone promises 1).
#[repr(C)]
struct Aligned<Bytes: ?Sized> {
    _align: [u64; 0],
    bytes: Bytes,
}

static OBJECT: &Aligned<[u8]> = &Aligned {
    _align: [],
    bytes: *include_bytes!(concat!(env!("OUT_DIR"), "/fastpath.bpf.o")),
};

/// The object's bytes; empty when build.rs could not compile it.
pub fn bytes() -> &'static [u8] {
    &OBJECT.bytes
}

/// What build.rs said when it could not compile the object ("" if it did).
pub fn build_error() -> &'static str {
    env!("L2TPNS_BPF_BUILD_ERROR")
}
