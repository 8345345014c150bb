//! Objects in a store, as the layers above the store know them.

/// A finished, confirmed object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    /// The key to read it by: the key it was created under, or the name the store gave it
    /// (a vault's archive id).
    pub key: String,
    pub size: u64,
    /// The checksum the store reported and esker verified (S3's SHA-256, a vault's SHA-256
    /// tree hash in hex), if any.
    pub checksum: Option<String>,
}

/// Retrieval speed of a restore, cheapest last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestoreTier {
    Expedited,
    Standard,
    Bulk,
}
