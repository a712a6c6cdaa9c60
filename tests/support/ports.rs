//! Free TCP ports for servers that must be told their port before they start.

use std::net::TcpListener;
use std::sync::atomic::{AtomicU32, Ordering};

/// Ports are handed out from here up, below the kernel's ephemeral range
/// (32768 and up by default): a port from bind-to-0 is an ephemeral one, and an
/// outgoing connection of another test could take it as its source port
/// before the server binds it (seen: Envoy's "Address already in use").
const LOW: u32 = 20_000;
const SPAN: u32 = 12_000;

/// A port that is free on 127.0.0.1 now and that this process has not handed
/// out before (so two servers of one test binary never get the same one).
/// Prefer binding to port 0 directly when the server allows it.
pub fn free_port() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    // Test binaries of one run start at different places in the span.
    let start = std::process::id().wrapping_mul(7_919) % SPAN;
    for _ in 0..SPAN {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = LOW + (start + n) % SPAN;
        let Ok(port) = u16::try_from(port) else {
            continue;
        };
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in 127.0.0.1:{LOW}..{}", LOW + SPAN);
}
