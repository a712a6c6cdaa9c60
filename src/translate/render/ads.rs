//! The config source for everything Envoy fetches after the listeners and clusters.

use envoy_types::pb::envoy::config::core::v3::{
    config_source::ConfigSourceSpecifier, AggregatedConfigSource, ApiVersion, ConfigSource,
};
use envoy_types::pb::google::protobuf::Duration;

/// RDS, EDS and SDS all come over the same ADS stream as LDS and CDS, so one
/// stream orders every update (make-before-break needs that).
pub fn ads() -> ConfigSource {
    ConfigSource {
        resource_api_version: ApiVersion::V3 as i32,
        config_source_specifier: Some(
            ConfigSourceSpecifier::Ads(AggregatedConfigSource::default()),
        ),
        ..ConfigSource::default()
    }
}

/// A whole number of seconds as a protobuf duration.
pub fn seconds(s: i64) -> Duration {
    Duration {
        seconds: s,
        nanos: 0,
    }
}
