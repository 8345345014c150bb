//! Pricing tables: a TOML file per provider and region, with its date and source. The
//! built-in table is `pricing/aws-us-east-1.toml`; `[pricing] file` in the config replaces it.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The table esker ships.
pub const BUILT_IN: &str = include_str!("../../pricing/aws-us-east-1.toml");

/// One provider/region's prices.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Pricing {
    pub provider: String,
    pub region: String,
    pub currency: String,
    pub date: String,
    pub source: String,
    pub egress_per_gb: f64,
    pub overhead_cold_bytes: u64,
    pub overhead_standard_bytes: u64,
    pub classes: BTreeMap<String, ClassPrice>,
}

/// Prices of one storage class.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClassPrice {
    pub storage_per_gb_month: f64,
    pub put_per_1000: f64,
    pub get_per_1000: f64,
    /// Deleting earlier still bills this many days.
    pub min_days: u32,
    /// Smaller objects are billed as this size.
    #[serde(default)]
    pub min_object_bytes: u64,
    /// Instant-read classes bill this per GB read.
    #[serde(default)]
    pub retrieval_per_gb: f64,
    /// Whether each object carries the cold-class overhead (GLACIER, DEEP_ARCHIVE).
    #[serde(default)]
    pub cold_overhead: bool,
    /// Restore tiers (expedited, standard, bulk) for classes that need a restore.
    #[serde(default)]
    pub restore: BTreeMap<String, TierPrice>,
}

/// Price and typical duration of one restore tier.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TierPrice {
    pub per_gb: f64,
    pub per_1000: f64,
    pub hours: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum PricingError {
    #[error("failed to read pricing file {path}: {message}")]
    Read { path: String, message: String },
    #[error("invalid pricing file {path}: {message}")]
    Parse { path: String, message: String },
    #[error("pricing file {path} has no prices for storage class {class}")]
    MissingClass { path: String, class: String },
}

impl Pricing {
    /// The configured table, or the built-in one.
    pub fn load(file: Option<&Path>) -> Result<Pricing, PricingError> {
        let (name, text) = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|error| PricingError::Read {
                    path: path.display().to_string(),
                    message: crate::error::io_message(&error),
                })?;
                (path.display().to_string(), text)
            }
            None => ("built-in pricing".to_string(), BUILT_IN.to_string()),
        };
        toml::from_str(&text).map_err(|error| PricingError::Parse { path: name, message: error.to_string() })
    }

    pub fn class(&self, class: &str) -> Result<&ClassPrice, PricingError> {
        self.classes.get(class).ok_or_else(|| PricingError::MissingClass {
            path: format!("{} {} ({})", self.provider, self.region, self.date),
            class: class.to_string(),
        })
    }
}

/// Bytes to billed GB (2^30).
pub fn gigabytes(bytes: f64) -> f64 {
    bytes / (1u64 << 30) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_table_parses_and_has_the_cold_classes() {
        let pricing = Pricing::load(None).expect("built-in pricing");
        for class in crate::config::S3_STORAGE_CLASSES.iter().filter(|class| **class != "REDUCED_REDUNDANCY") {
            pricing.class(class).expect("class priced");
        }
        let deep = pricing.class("DEEP_ARCHIVE").expect("deep archive");
        assert!(deep.cold_overhead);
        assert_eq!(deep.min_days, 180);
        assert!(deep.restore.contains_key("bulk") && deep.restore.contains_key("standard"));
        assert_eq!(pricing.overhead_cold_bytes + pricing.overhead_standard_bytes, 40 * 1024);
    }
}
