//! Upload estimates for `archive --dry-run` against a priced store: requests, monthly
//! storage with per-object overhead, the minimum-duration commitment, and what the same
//! files would cost stored one object each (the reason bundling exists).

use serde::Serialize;

use super::pricing::{ClassPrice, Pricing, PricingError, gigabytes};

const BLOCK: u64 = 512;
/// Manifest line per entry, before and after zstd (measured on typical trees).
const MANIFEST_LINE: u64 = 420;
const MANIFEST_LINE_COMPRESSED: u64 = 90;

fn padded(size: u64) -> u64 {
    size.div_ceil(BLOCK) * BLOCK
}

/// Cost of storing a set of objects in one class.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StorageCost {
    pub objects: u64,
    /// Bytes billed, with per-object overhead and minimum object sizes.
    pub billed_bytes: u64,
    pub requests: u64,
    pub request_cost_usd: f64,
    pub storage_cost_usd_per_month: f64,
    /// Deleting before `minimum_days` still bills this much storage in all.
    pub minimum_days: u32,
    pub minimum_storage_cost_usd: f64,
}

/// What uploading a planned archive would cost.
#[derive(Debug, Clone, Serialize)]
pub struct UploadEstimate {
    /// Which table the figures come from: provider, region, date and source.
    pub pricing: String,
    pub currency: String,
    pub storage_class: String,
    pub manifest_storage_class: String,
    /// Estimated size of all bundles (tar headers and padding included).
    pub bundle_bytes: u64,
    pub bundles: StorageCost,
    pub manifests: StorageCost,
    pub total_request_cost_usd: f64,
    pub total_storage_cost_usd_per_month: f64,
    /// The same files stored one object per file, in the same class.
    pub one_object_per_file: StorageCost,
}

/// Accumulates planned bundles and files, then prices them.
#[derive(Debug, Default)]
pub struct UploadEstimator {
    part_size: u64,
    bundle_count: u64,
    bundle_bytes: u64,
    bundle_requests: u64,
    manifest_bytes: u64,
    files: u64,
    file_bytes: u64,
    file_requests: u64,
    /// Sizes below a class minimum are billed up to it: tracked as the extra bytes.
    small_file_shortfall: u64,
    min_object_bytes: u64,
}

impl UploadEstimator {
    pub fn new(part_size: u64, min_object_bytes: u64) -> UploadEstimator {
        UploadEstimator { part_size: part_size.max(1), min_object_bytes, ..UploadEstimator::default() }
    }

    fn requests_for(&self, bytes: u64) -> u64 {
        if bytes <= self.part_size { 1 } else { bytes.div_ceil(self.part_size) + 2 }
    }

    /// One planned bundle: the sizes of its entries.
    pub fn add_bundle(&mut self, sizes: impl IntoIterator<Item = u64>) {
        let mut bytes = 2 * BLOCK; // end-of-archive marker
        let mut entries = 0;
        for size in sizes {
            entries += 1;
            bytes += BLOCK + padded(size);
            self.files += 1;
            self.file_bytes += size;
            self.file_requests += self.requests_for(size);
            self.small_file_shortfall += self.min_object_bytes.saturating_sub(size);
        }
        bytes += BLOCK + padded(entries * MANIFEST_LINE + 300);
        self.bundle_count += 1;
        self.bundle_bytes += bytes;
        self.bundle_requests += self.requests_for(bytes);
        self.manifest_bytes += entries * MANIFEST_LINE_COMPRESSED + 200;
    }

    pub fn finish(&self, pricing: &Pricing, class: &str, manifest_class: &str) -> Result<UploadEstimate, PricingError> {
        let cold = pricing.class(class)?;
        let hot = pricing.class(manifest_class)?;
        let standard = pricing.class("STANDARD")?;
        let bundles = cost(pricing, cold, standard, self.bundle_count, self.bundle_bytes, self.bundle_requests, 0);
        let manifests = cost(pricing, hot, standard, self.bundle_count, self.manifest_bytes, self.bundle_count, 0);
        let one_object_per_file =
            cost(pricing, cold, standard, self.files, self.file_bytes, self.file_requests, self.small_file_shortfall);
        Ok(UploadEstimate {
            pricing: format!("{} {} prices of {} ({})", pricing.provider, pricing.region, pricing.date, pricing.source),
            currency: pricing.currency.clone(),
            storage_class: class.to_string(),
            manifest_storage_class: manifest_class.to_string(),
            bundle_bytes: self.bundle_bytes,
            total_request_cost_usd: bundles.request_cost_usd + manifests.request_cost_usd,
            total_storage_cost_usd_per_month: bundles.storage_cost_usd_per_month + manifests.storage_cost_usd_per_month,
            bundles,
            manifests,
            one_object_per_file,
        })
    }
}

fn cost(
    pricing: &Pricing,
    class: &ClassPrice,
    standard: &ClassPrice,
    objects: u64,
    bytes: u64,
    requests: u64,
    shortfall: u64,
) -> StorageCost {
    let (cold_overhead, standard_overhead) = if class.cold_overhead {
        (objects * pricing.overhead_cold_bytes, objects * pricing.overhead_standard_bytes)
    } else {
        (0, 0)
    };
    let class_bytes = bytes + shortfall + cold_overhead;
    let monthly = gigabytes(class_bytes as f64) * class.storage_per_gb_month
        + gigabytes(standard_overhead as f64) * standard.storage_per_gb_month;
    StorageCost {
        objects,
        billed_bytes: class_bytes + standard_overhead,
        requests,
        request_cost_usd: requests as f64 / 1000.0 * class.put_per_1000,
        storage_cost_usd_per_month: monthly,
        minimum_days: class.min_days,
        minimum_storage_cost_usd: monthly * f64::from(class.min_days) / 30.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundling_beats_one_object_per_file_on_requests_and_overhead() {
        let pricing = Pricing::load(None).expect("pricing");
        let mut estimator = UploadEstimator::new(16 << 20, 0);
        for _ in 0..100 {
            estimator.add_bundle(std::iter::repeat_n(4096, 1000));
        }
        let estimate = estimator.finish(&pricing, "DEEP_ARCHIVE", "STANDARD").expect("estimate");
        assert_eq!(estimate.bundles.objects, 100);
        assert_eq!(estimate.bundles.requests, 100, "each ~4.6 MiB bundle fits one PUT");
        assert_eq!(estimate.one_object_per_file.requests, 100_000);
        // 100,000 PUTs at $0.05 per 1,000.
        assert!((estimate.one_object_per_file.request_cost_usd - 5.0).abs() < 1e-9);
        // 40 KB overhead per object dwarfs 4 KB files.
        // Per bundle: end marker 1,024 + 1,000 × (512 header + 4,096 data) + manifest member
        // (512 header + 420,300 bytes padded to 420,352) + 40,960 overhead.
        assert_eq!(estimate.bundles.billed_bytes, 100 * (1024 + 4_608_000 + 512 + 420_352 + 40_960));
        // Per file alone: 4,096 data + 40,960 overhead.
        assert_eq!(estimate.one_object_per_file.billed_bytes, 100_000 * (4096 + 40_960));
        assert_eq!(estimate.bundles.minimum_days, 180);
        assert!(
            (estimate.bundles.minimum_storage_cost_usd - estimate.bundles.storage_cost_usd_per_month * 6.0).abs()
                < 1e-12
        );
    }

    #[test]
    fn large_bundles_count_multipart_requests() {
        let pricing = Pricing::load(None).expect("pricing");
        let mut estimator = UploadEstimator::new(16 << 20, 0);
        estimator.add_bundle([100 << 20]);
        let estimate = estimator.finish(&pricing, "GLACIER", "STANDARD").expect("estimate");
        // 100 MiB + headers in 16 MiB parts: 7 parts + create + complete.
        assert_eq!(estimate.bundles.requests, 9);
    }
}
