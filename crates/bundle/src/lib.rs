//! Bundles: planning them under caps, writing them as pax tar with offsets, their manifest.
//!
//! A bundle is written to any [`tar::TarSink`]; this crate knows nothing of stores.

mod manifest;
mod pack;
mod plan;
mod read_ahead;
mod saved;
pub mod tar;

pub use manifest::{DigestHex, MANIFEST_MEMBER, ManifestHeader, ManifestLine, mode_text, text_and_hex};
pub use pack::{
    BundleContext, PackError, PackScratch, PackState, PackedEntry, WriteFailed, WrittenBundle, entry_path, member_name,
    write_bundle,
};
pub use plan::{Caps, PlanItem, PlannedBundle, Planner, group_key};
pub use saved::{load_plan, save_plan};
