//! The stores a pass uses, each opened once from the settings that name it.

/// The store named `name` from `stores`, opened (and kept there) the first time: one
/// client per store for a whole pass, so a vault's job list is read once.
pub fn open_cached(
    stores: &mut std::collections::HashMap<String, std::sync::Arc<dyn esker_store::Store>>,
    settings: &crate::config::Settings,
    name: &str,
) -> crate::error::Result<std::sync::Arc<dyn esker_store::Store>> {
    if let Some(store) = stores.get(name) {
        return Ok(store.clone());
    }
    let store = esker_store::open(name, settings.store(name)?)?;
    stores.insert(name.to_string(), store.clone());
    Ok(store)
}
