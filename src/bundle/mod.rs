//! Bundles: planning them under caps, writing them as pax tar with offsets, their manifest.

mod manifest;
mod pack;
mod plan;
mod saved;
pub mod tar;

pub use manifest::{DigestHex, MANIFEST_MEMBER, ManifestHeader, ManifestLine, mode_text, text_and_hex};
pub use pack::{
    BundleContext, PackError, PackOptions, PackScratch, PackState, PackedBundle, PackedEntry, WrittenBundle,
    entry_path, member_name, pack_bundle, write_bundle,
};
pub use plan::{Caps, PlanItem, PlannedBundle, Planner, group_key};
pub use saved::{load_plan, save_plan};
