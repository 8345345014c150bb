//! Vault inventories: request an inventory-retrieval job, let the poller fetch it, and
//! reconcile the vault's archive list with the catalog.

mod fetch;
mod reconcile;
mod request;

pub use fetch::poll_inventories;
pub use reconcile::{Mismatch, MissingArchive, Reconciliation, UnknownArchive, reconcile};
pub use request::{InventoryRequested, request_inventory};
