//! Free TCP ports for servers that must be told their port before they start.

use std::net::TcpListener;

/// Returns a port that was free an instant ago on 127.0.0.1 (bind to port 0, read it,
/// release it). Prefer binding to port 0 directly when the server allows it.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0")
        .unwrap_or_else(|e| panic!("cannot bind 127.0.0.1:0 to find a free port: {e}"));
    listener
        .local_addr()
        .unwrap_or_else(|e| panic!("cannot read the local address of a listener: {e}"))
        .port()
}
