//! What the AWS-backed stores (S3 buckets, Glacier vaults) share: the SDK configuration,
//! with rustls on ring, standard retries with backoff, timeouts, and the region, profile and
//! endpoint from the store's settings (credentials come from the AWS chain).

use std::time::Duration;

use aws_config::{Region, SdkConfig};

/// Where and how a store talks to AWS.
pub(super) struct Connection<'a> {
    pub region: Option<&'a str>,
    pub profile: Option<&'a str>,
    pub endpoint_url: Option<&'a str>,
    /// Attempts per request before it fails (throttling, 5xx, timeouts).
    pub max_attempts: u32,
}

/// The shared SDK configuration for `connection`.
pub(super) async fn load_config(connection: Connection<'_>) -> SdkConfig {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(http)
        .retry_config(
            aws_config::retry::RetryConfig::standard()
                .with_max_attempts(connection.max_attempts)
                .with_initial_backoff(Duration::from_millis(200))
                .with_max_backoff(Duration::from_secs(20)),
        )
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(10))
                .operation_attempt_timeout(Duration::from_secs(900))
                .build(),
        );
    if let Some(region) = connection.region {
        loader = loader.region(Region::new(region.to_string()));
    }
    if let Some(profile) = connection.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(endpoint) = connection.endpoint_url {
        loader = loader.endpoint_url(endpoint);
    }
    loader.load().await
}

/// The region stores fall back to when neither the settings nor the AWS chain name one.
pub(super) const DEFAULT_REGION: &str = "us-east-1";
