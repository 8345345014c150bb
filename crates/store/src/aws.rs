//! What the AWS-backed stores (S3 buckets, Glacier vaults) share: the SDK configuration,
//! with rustls on ring, standard retries with backoff, timeouts, and the region, profile and
//! endpoint from the store's settings (credentials come from the AWS chain).

use std::time::Duration;

use aws_config::{Region, SdkConfig};
// Both SDKs name the same smithy types: an S3 path serves the Glacier store too.
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use tokio::runtime::Runtime;

use super::error::{StoreError, StoreErrorKind};
use crate::AwsClientSettings;

/// A store's own tokio runtime: two worker threads named `thread_name`, enough for its
/// parts in flight, since the requests mostly wait on the network.
pub(super) fn runtime(thread_name: &str) -> Result<Runtime, StoreError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(thread_name)
        .enable_all()
        .build()
        .map_err(|error| StoreError::io("tokio runtime", error))
}

/// A store error from an SDK error: `kind` tells its kind from the error, the service's
/// error code and the HTTP status; the message names `what` and gives the service's code
/// and message, or else the chain of causes (a connection refused, a timeout).
pub(super) fn store_error<E>(
    what: &str,
    error: SdkError<E, HttpResponse>,
    kind: impl FnOnce(&SdkError<E, HttpResponse>, Option<&str>, Option<u16>) -> StoreErrorKind,
) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let status = error.raw_response().map(|response| response.status().as_u16());
    let code = error.code().map(str::to_string);
    let kind = kind(&error, code.as_deref(), status);
    let detail = match (code, error.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code,
        // A HEAD answer has no body, so no code: the status says what happened.
        _ if status.is_some() => http_status_text(status.unwrap_or_default()),
        _ => {
            let mut text = error.to_string();
            let mut source = std::error::Error::source(&error);
            while let Some(inner) = source {
                text.push_str(": ");
                text.push_str(&inner.to_string());
                source = inner.source();
            }
            text
        }
    };
    StoreError { kind, message: format!("{what}: {detail}"), source: Some(Box::new(error)) }
}

/// What an HTTP status without an error body means for a store request.
fn http_status_text(status: u16) -> String {
    let meaning = match status {
        301 | 307 => "the bucket is in another region (set `region`)",
        400 => "bad request",
        401 | 403 => "access denied (check the credentials and the bucket or vault policy)",
        404 => "not found",
        409 => "conflict",
        412 => "precondition failed",
        500..=599 => "the service failed; try again later",
        _ => "unexpected answer",
    };
    format!("HTTP {status}: {meaning}")
}

/// The shared SDK configuration for a store's client settings, in [`DEFAULT_REGION`] when neither the
/// settings nor the AWS chain name a region.
pub(super) async fn load_config(connection: &AwsClientSettings) -> SdkConfig {
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
    if let Some(region) = &connection.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(profile) = &connection.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(endpoint) = &connection.endpoint_url {
        loader = loader.endpoint_url(endpoint);
    }
    let config = loader.load().await;
    if config.region().is_some() {
        return config;
    }
    config.into_builder().region(Region::new(DEFAULT_REGION)).build()
}

/// The region stores fall back to when neither the settings nor the AWS chain name one.
const DEFAULT_REGION: &str = "us-east-1";
