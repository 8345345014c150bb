//! What a retrieval costs and how long it takes, per tier, from the pricing table.
//!
//! S3 restores whole bundles (the only option it offers), then esker downloads just the
//! needed byte ranges. The cost of a tier: restore fee per GB and per request, GET requests,
//! internet egress for the bytes downloaded, and the restored copies' storage (billed as
//! STANDARD) for the days asked. A Glacier vault retrieves only a MiB-aligned range of each
//! bundle (an archive-retrieval job), billed per GB of that range and per job; its output
//! costs no storage.

use std::collections::BTreeMap;

use serde::Serialize;

use super::select::Selection;
use crate::config::{Settings, StoreSettings};
use crate::cost::{ClassPrice, Pricing, gigabytes};
use crate::error::{Error, Result};
use crate::restore::ranges::{data_span, plan_ranges, request_count, requests};
use esker_catalog::{Bundle, Catalog};

/// The parts of a tier's cost.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CostBreakdown {
    pub retrieval_per_gb_usd: f64,
    pub requests_usd: f64,
    pub egress_usd: f64,
    pub restored_storage_usd: f64,
}

/// One tier's total.
#[derive(Debug, Clone, Serialize)]
pub struct TierEstimate {
    pub tier: String,
    pub cost_usd: f64,
    /// Typical hours until the data is ready (the slowest store in the selection).
    pub hours: f64,
    pub breakdown: CostBreakdown,
}

/// The estimate `retrieve --dry-run` prints.
#[derive(Debug, Clone, Serialize)]
pub struct RetrievalEstimate {
    pub files: u64,
    /// Bytes of the selected files.
    pub bytes: u64,
    pub bundles: u64,
    /// Bytes made readable by restores (whole bundles on S3).
    pub bytes_restored: u64,
    /// Bytes downloaded (the files' ranges, merged where close).
    pub bytes_downloaded: u64,
    /// Restore requests plus download requests.
    pub requests: u64,
    pub restore_requests: u64,
    pub download_requests: u64,
    pub days: u32,
    /// Files matched but not stored in a bundle (skipped at archive time).
    pub not_stored: u64,
    pub tiers: Vec<TierEstimate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pricing: Option<String>,
}

impl RetrievalEstimate {
    pub fn tier(&self, name: &str) -> Option<&TierEstimate> {
        self.tiers.iter().find(|tier| tier.tier == name)
    }
}

/// Per store and class: what the selection needs from it.
#[derive(Default)]
struct Group {
    bundles: u64,
    bundle_bytes: u64,
    download_requests: u64,
    download_bytes: u64,
    /// Vaults: archive-retrieval jobs and the bytes of their (MiB-aligned) ranges.
    vault_jobs: u64,
    vault_range_bytes: u64,
}

/// What a vault retrieves and downloads for one bundle's records: the job's range (the
/// data span widened to MiB boundaries), and the download requests with their bytes
/// (widened where that lets the vault send a tree hash to check).
pub fn vault_plan(records: &[esker_catalog::FileRecord], bundle_size: u64) -> Option<(std::ops::Range<u64>, u64, u64)> {
    let span = data_span(records)?;
    let job = esker_store::tree_hash::mib_aligned(&span, bundle_size);
    let mut count = 0;
    let mut bytes = 0;
    for request in requests(&plan_ranges(records)) {
        let relative = request.start - job.start..request.end - job.start;
        let fetched = esker_store::download_range(&job, bundle_size, &relative);
        count += 1;
        bytes += fetched.end - fetched.start;
    }
    Some((job, count, bytes))
}

pub fn estimate(
    settings: &Settings,
    catalog: &mut Catalog,
    selection: &Selection,
    days: u32,
) -> Result<RetrievalEstimate> {
    let groups = group_by_store(settings, catalog, selection)?;
    let mut pricing: Option<Pricing> = None;
    let mut tiers: Option<BTreeMap<String, TierEstimate>> = None;
    let (mut bytes_restored, mut restore_requests, mut download_requests, mut bytes_downloaded) = (0, 0, 0, 0);
    for ((store, class), group) in &groups {
        download_requests += group.download_requests;
        bytes_downloaded += group.download_bytes;
        let class = class.as_deref();
        let cost = match settings.store(store) {
            Ok(StoreSettings::S3(_)) => s3_cost(loaded(&mut pricing, settings)?, class, group, days)?,
            Ok(StoreSettings::Glacier(_)) => vault_cost(loaded(&mut pricing, settings)?, class, group)?,
            Ok(StoreSettings::Local { cold_delay, .. }) => local_cost(*cold_delay),
            Err(_) => {
                return Err(Error::Input(format!(
                    "bundles of the selection live in store `{store}`, which is not configured any more"
                )));
            }
        };
        bytes_restored += cost.bytes_restored;
        restore_requests += cost.restore_requests;
        tiers = Some(merge_tiers(tiers, cost.tiers));
    }
    Ok(RetrievalEstimate {
        files: selection.files() as u64,
        bytes: selection.bytes(),
        bundles: selection.by_bundle.len() as u64,
        bytes_restored,
        bytes_downloaded,
        requests: restore_requests + download_requests,
        restore_requests,
        download_requests,
        days,
        not_stored: selection.not_stored.len() as u64,
        tiers: tiers.unwrap_or_default().into_values().collect(),
        pricing: pricing
            .map(|table| format!("{} {} prices of {} ({})", table.provider, table.region, table.date, table.source)),
    })
}

/// What the selection needs from each store and class: bundles, restores, downloads.
fn group_by_store(
    settings: &Settings,
    catalog: &mut Catalog,
    selection: &Selection,
) -> Result<BTreeMap<(String, Option<String>), Group>> {
    let mut groups: BTreeMap<(String, Option<String>), Group> = BTreeMap::new();
    for (bundle_id, records) in &selection.by_bundle {
        let bundle = bundle_row(catalog, *bundle_id)?;
        let group = groups.entry((bundle.store.clone(), bundle.storage_class.clone())).or_default();
        group.bundles += 1;
        let size = bundle.bytes.unwrap_or(bundle.data_bytes).max(0) as u64;
        group.bundle_bytes += size;
        if matches!(settings.store(&bundle.store), Ok(StoreSettings::Glacier(_))) {
            if let Some((job, requests, bytes)) = vault_plan(records, size) {
                group.vault_jobs += 1;
                group.vault_range_bytes += job.end - job.start;
                group.download_requests += requests;
                group.download_bytes += bytes;
            }
            continue;
        }
        let (requests, bytes) = request_count(&plan_ranges(records));
        group.download_requests += requests;
        group.download_bytes += bytes;
    }
    Ok(groups)
}

/// The tiers one group of bundles offers and what its restores add to the totals.
struct GroupCost {
    tiers: BTreeMap<String, TierEstimate>,
    bytes_restored: u64,
    restore_requests: u64,
}

/// S3: a class readable at once costs per GB read, requests and egress; a cold class
/// restores whole bundles, and the restored copy is billed as STANDARD storage for the
/// days it is kept.
fn s3_cost(table: &Pricing, class: Option<&str>, group: &Group, days: u32) -> Result<GroupCost> {
    let price = table.class(class.unwrap_or("STANDARD"))?;
    let standard = table.class("STANDARD")?;
    let downloaded_gb = gigabytes(group.download_bytes as f64);
    let get_usd = group.download_requests as f64 / 1000.0 * price.get_per_1000;
    let egress_usd = downloaded_gb * table.egress_per_gb;
    if price.restore.is_empty() {
        let breakdown = CostBreakdown {
            retrieval_per_gb_usd: downloaded_gb * price.retrieval_per_gb,
            requests_usd: get_usd,
            egress_usd,
            restored_storage_usd: 0.0,
        };
        let tiers = BTreeMap::from([("instant".to_string(), tier_total("instant", breakdown, 0.0))]);
        return Ok(GroupCost { tiers, bytes_restored: 0, restore_requests: 0 });
    }
    let restored_gb = gigabytes(group.bundle_bytes as f64);
    let copy_usd = restored_gb * standard.storage_per_gb_month * f64::from(days) / 30.0;
    Ok(GroupCost {
        tiers: restore_tiers(price, restored_gb, group.bundles, get_usd, egress_usd, copy_usd),
        bytes_restored: group.bundle_bytes,
        restore_requests: group.bundles,
    })
}

/// A vault retrieves only the jobs' ranges; their output is readable for 24 h at no
/// storage charge, so there is no restored copy to pay for.
fn vault_cost(table: &Pricing, class: Option<&str>, group: &Group) -> Result<GroupCost> {
    let price = table.class(class.unwrap_or(esker_store::GLACIER_VAULT_CLASS))?;
    let retrieved_gb = gigabytes(group.vault_range_bytes as f64);
    let get_usd = group.download_requests as f64 / 1000.0 * price.get_per_1000;
    let egress_usd = gigabytes(group.download_bytes as f64) * table.egress_per_gb;
    Ok(GroupCost {
        tiers: restore_tiers(price, retrieved_gb, group.vault_jobs, get_usd, egress_usd, 0.0),
        bytes_restored: group.vault_range_bytes,
        restore_requests: group.vault_jobs,
    })
}

/// A local store costs nothing; a simulated cold one takes its delay.
fn local_cost(cold_delay: Option<u64>) -> GroupCost {
    let hours = cold_delay.map(|seconds| seconds as f64 / 3600.0).unwrap_or(0.0);
    let tiers = BTreeMap::from([("local".to_string(), tier_total("local", CostBreakdown::default(), hours))]);
    GroupCost { tiers, bytes_restored: 0, restore_requests: 0 }
}

fn bundle_row(catalog: &mut Catalog, id: i64) -> Result<Bundle> {
    catalog.bundle(id)?.ok_or_else(|| Error::Input(format!("bundle {id} is missing from the catalog")))
}

/// The pricing table, loaded at the first store that needs it.
fn loaded<'a>(pricing: &'a mut Option<Pricing>, settings: &Settings) -> Result<&'a Pricing> {
    if pricing.is_none() {
        *pricing = Some(Pricing::load(settings.pricing_file.as_deref())?);
    }
    pricing.as_ref().ok_or_else(|| Error::Input("pricing table missing".into()))
}

/// One estimate per restore tier of `price`: `restored_gb` brought back by `requests`
/// restore requests (S3) or jobs (vaults), plus the download's GETs (`get_usd`) and egress,
/// and `copy_usd` for the restored copy's storage (0 where there is none).
fn restore_tiers(
    price: &ClassPrice,
    restored_gb: f64,
    requests: u64,
    get_usd: f64,
    egress_usd: f64,
    copy_usd: f64,
) -> BTreeMap<String, TierEstimate> {
    price
        .restore
        .iter()
        .map(|(tier, fee)| {
            let breakdown = CostBreakdown {
                retrieval_per_gb_usd: restored_gb * fee.per_gb,
                requests_usd: requests as f64 / 1000.0 * fee.per_1000 + get_usd,
                egress_usd,
                restored_storage_usd: copy_usd,
            };
            (tier.clone(), tier_total(tier, breakdown, fee.hours))
        })
        .collect()
}

fn tier_total(tier: &str, breakdown: CostBreakdown, hours: f64) -> TierEstimate {
    let cost_usd =
        breakdown.retrieval_per_gb_usd + breakdown.requests_usd + breakdown.egress_usd + breakdown.restored_storage_usd;
    TierEstimate { tier: tier.to_string(), cost_usd, hours, breakdown }
}

/// Combines the tiers of several stores: a tier every cold store offers is summed; stores
/// that need no restore (local, instant classes) add their cost to every tier.
fn merge_tiers(
    so_far: Option<BTreeMap<String, TierEstimate>>,
    next: BTreeMap<String, TierEstimate>,
) -> BTreeMap<String, TierEstimate> {
    let Some(so_far) = so_far else { return next };
    let flat = |tiers: &BTreeMap<String, TierEstimate>| {
        tiers.len() == 1 && tiers.keys().any(|t| t == "instant" || t == "local")
    };
    let (base, extra) = match (flat(&so_far), flat(&next)) {
        (true, false) => (next, so_far),
        _ => (so_far, next),
    };
    let single = extra.values().next().cloned().filter(|_| flat(&extra));
    base.into_iter()
        .filter_map(|(name, mut tier)| {
            let add = match &single {
                Some(single) => single.clone(),
                None => extra.get(&name)?.clone(),
            };
            tier.cost_usd += add.cost_usd;
            tier.hours = tier.hours.max(add.hours);
            tier.breakdown.retrieval_per_gb_usd += add.breakdown.retrieval_per_gb_usd;
            tier.breakdown.requests_usd += add.breakdown.requests_usd;
            tier.breakdown.egress_usd += add.breakdown.egress_usd;
            tier.breakdown.restored_storage_usd += add.breakdown.restored_storage_usd;
            Some((name, tier))
        })
        .collect()
}
