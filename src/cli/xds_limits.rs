//! `interlock serve`'s xDS limit flags: what one client may make the ADS server
//! hold or wait for (DESIGN.md "Trust boundaries").

use std::time::Duration;

use clap::Args;
use interlock::xds::XdsLimits;

/// Limits of the ADS server; going over one is answered with a gRPC status and
/// logged once per client.
#[derive(Args, Debug, Clone)]
pub struct XdsLimitArgs {
    /// Concurrent HTTP/2 streams per xDS connection (an Envoy uses one).
    #[arg(long, default_value_t = 16)]
    pub xds_max_streams_per_connection: u32,
    /// Open ADS streams in total; beyond it a new stream gets RESOURCE_EXHAUSTED.
    #[arg(long, default_value_t = 10_000)]
    pub xds_max_streams: usize,
    /// A stream that sends no request within this time is closed with
    /// DEADLINE_EXCEEDED.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub xds_first_request_timeout: Duration,
    /// Resource names per type per stream; a request subscribing beyond it is
    /// refused with RESOURCE_EXHAUSTED and its stream ends.
    #[arg(long, default_value_t = 100_000)]
    pub xds_max_names: usize,
    /// Largest xDS request message in bytes; a larger one is refused with
    /// RESOURCE_EXHAUSTED.
    #[arg(long, default_value_t = 16 * 1024 * 1024)]
    pub xds_max_message_bytes: usize,
    /// Longest `node.id` in bytes; a longer one is refused with INVALID_ARGUMENT.
    #[arg(long, default_value_t = 256)]
    pub xds_max_node_id_bytes: usize,
    /// A NACK's error detail is cut to this many bytes before it is kept,
    /// logged or shown.
    #[arg(long, default_value_t = 4096)]
    pub xds_max_error_detail_bytes: usize,
    /// HTTP/2: streams a client may reset before the server accepts them, per
    /// connection, before the connection is closed (GOAWAY).
    #[arg(long, default_value_t = 20)]
    pub xds_max_pending_reset_streams: usize,
    /// HTTP/2: streams the server may reset for a client's protocol errors, per
    /// connection, before the connection is closed (GOAWAY; RUSTSEC-2024-0003).
    #[arg(long, default_value_t = 1024)]
    pub xds_max_local_reset_streams: usize,
    /// Accept backlog of the xDS listener (capped by net.core.somaxconn), so
    /// connect storms queue instead of being reset.
    #[arg(long, default_value_t = 4096)]
    pub xds_listen_backlog: u32,
    /// Streams sending their first full config at once; in a connect storm the
    /// others wait their turn, first come first served.
    #[arg(long, default_value_t = 64)]
    pub xds_max_initial_syncs: usize,
    /// Longest a stream keeps its first-sync turn without getting in sync.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    pub xds_initial_sync_hold: Duration,
}

impl XdsLimitArgs {
    /// The limits these flags give.
    pub fn to_limits(&self) -> XdsLimits {
        XdsLimits {
            max_streams_per_connection: self.xds_max_streams_per_connection,
            max_streams: self.xds_max_streams,
            first_request_timeout: self.xds_first_request_timeout,
            max_names: self.xds_max_names,
            max_message_bytes: self.xds_max_message_bytes,
            max_node_id_bytes: self.xds_max_node_id_bytes,
            max_error_detail_bytes: self.xds_max_error_detail_bytes,
            max_pending_accept_reset_streams: self.xds_max_pending_reset_streams,
            max_local_error_reset_streams: self.xds_max_local_reset_streams,
            listen_backlog: self.xds_listen_backlog,
            max_initial_syncs: self.xds_max_initial_syncs,
            initial_sync_hold: self.xds_initial_sync_hold,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        limits: XdsLimitArgs,
    }

    #[test]
    fn defaults_are_the_library_defaults() {
        let cli = Cli::parse_from(["interlock"]);
        assert_eq!(cli.limits.to_limits(), XdsLimits::default());
    }
}
