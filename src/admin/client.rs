//! A client of Interlock's own admin gRPC API, shared by the tools that watch
//! a running Interlock from outside (`interlock wait`, `interlock bench push`):
//! one way to address it, to reach it while it starts, and to tell a lost
//! connection (retry) from a server that is not Interlock (give up).

use std::time::Duration;

use tokio::time::{sleep, Instant};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

use super::grpc::pb;

/// The generated client over one channel.
pub type AdminClient = pb::admin_client::AdminClient<Channel>;

/// Pause between attempts to reach the admin API.
pub const RETRY: Duration = Duration::from_millis(250);

/// Why the admin API could not be used.
#[derive(Debug, thiserror::Error)]
pub enum AdminClientError {
    /// The address is not a usable URI.
    #[error("bad admin address {address:?}")]
    BadAddress {
        /// As given.
        address: String,
        /// Why.
        source: tonic::transport::Error,
    },
    /// Nothing answered before the deadline.
    #[error("cannot reach Interlock's admin API at {uri} within {waited}: {cause}")]
    Unreachable {
        /// Where.
        uri: String,
        /// For how long it was tried.
        waited: String,
        /// The last error.
        cause: String,
    },
    /// Something answered, but not Interlock's admin API: retrying cannot help.
    #[error("the server does not serve Interlock's admin API (is the admin address right?): {0}")]
    NotInterlock(Status),
}

/// A call that failed in a way worth retrying on a new connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lost(pub String);

/// The endpoint for `address` (`host:port` or a URL).
pub fn endpoint(address: &str) -> Result<Endpoint, AdminClientError> {
    let uri = if address.contains("://") {
        address.to_owned()
    } else {
        format!("http://{address}")
    };
    Ok(Endpoint::from_shared(uri)
        .map_err(|source| AdminClientError::BadAddress {
            address: address.to_owned(),
            source,
        })?
        .connect_timeout(Duration::from_secs(2)))
}

/// Connects, retrying every [`RETRY`] until `deadline` (Interlock may still be
/// starting); `timeout` is only for the message.
pub async fn connect(
    endpoint: &Endpoint,
    deadline: Instant,
    timeout: Duration,
) -> Result<AdminClient, AdminClientError> {
    loop {
        let cause = match tokio::time::timeout_at(deadline, endpoint.connect()).await {
            Ok(Ok(channel)) => return Ok(AdminClient::new(channel)),
            Ok(Err(e)) => root_cause(&e),
            Err(_) => "no answer".to_owned(),
        };
        if Instant::now() + RETRY >= deadline {
            return Err(AdminClientError::Unreachable {
                uri: endpoint.uri().to_string(),
                waited: humantime::format_duration(timeout).to_string(),
                cause,
            });
        }
        sleep(RETRY).await;
    }
}

/// A failed call: [`AdminClientError::NotInterlock`] when the server does not
/// implement the API, else [`Lost`] (reconnect and try again).
pub fn classify(status: Status) -> Result<Lost, AdminClientError> {
    if status.code() == Code::Unimplemented {
        return Err(AdminClientError::NotInterlock(status));
    }
    Ok(Lost(format!("{}: {}", status.code(), status.message())))
}

fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}
