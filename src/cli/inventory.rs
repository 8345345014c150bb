//! `esker inventory request|show`.

use super::ExitCode;

use super::args::InventoryCommand;
use super::output::{Output, plural, table, thousands};
use crate::config::Settings;
use crate::error::Result;
use crate::inventory::{Reconciliation, reconcile, request_inventory};
use esker_index::format_size;

/// Archives and bundles listed per section before "... and N more".
const SHOWN: usize = 50;

/// `request` starts an inventory job; `show` compares the latest inventory with the
/// catalog and exits 4 when a bundle is missing from the vault or differs from it.
pub fn inventory(settings: &Settings, command: InventoryCommand) -> Result<ExitCode> {
    let mut out = Output::new();
    let code = match command {
        InventoryCommand::Request { store, json } => {
            let requested = request_inventory(settings, &store)?;
            if json {
                out.json(&requested)?;
            } else {
                out.line(format!(
                    "inventory {} requested for vault {} (store `{}`), job {}",
                    requested.id, requested.vault, requested.store, requested.job_id
                ))?;
                eprintln!(
                    "`esker poll` fetches it when the vault has it ready (usually 3-5 hours), then `esker inventory show {store}`"
                );
            }
            ExitCode::SUCCESS
        }
        InventoryCommand::Show { store, json } => {
            let report = reconcile(settings, &store)?;
            if json {
                out.json(&report)?;
            } else {
                print_reconciliation(&mut out, &report)?;
            }
            if report.missing.is_empty() && report.mismatched.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::INTEGRITY
            }
        }
    };
    out.flush()?;
    Ok(code)
}

fn print_reconciliation(out: &mut Output, report: &Reconciliation) -> Result<()> {
    out.line(format!(
        "vault {} (store `{}`), inventory {} as of {}: {}",
        report.vault,
        report.store,
        report.inventory,
        report.inventory_date.as_deref().unwrap_or("an unknown date"),
        plural(report.archives, "archive")
    ))?;
    out.line(format!("{} match the catalog", plural(report.matched, "bundle")))?;
    if report.newer_than_inventory > 0 {
        out.line(format!(
            "{} stored after the inventory was taken: not in it yet",
            plural(report.newer_than_inventory, "bundle")
        ))?;
    }
    print_unknown(out, report)?;
    out.line(format!("missing from the vault: {}", thousands(report.missing.len() as u64)))?;
    for missing in report.missing.iter().take(SHOWN) {
        out.line(format!(
            "  {} {} (run {}): archive {}",
            missing.what, missing.bundle, missing.run, missing.archive_id
        ))?;
    }
    more(out, report.missing.len())?;
    out.line(format!("size or tree hash mismatches: {}", thousands(report.mismatched.len() as u64)))?;
    for mismatch in report.mismatched.iter().take(SHOWN) {
        out.line(format!(
            "  bundle {}: catalog {} bytes, tree hash {}; vault {} bytes, tree hash {}",
            mismatch.bundle,
            mismatch.catalog_bytes.map(|bytes| bytes.to_string()).unwrap_or_else(|| "?".into()),
            mismatch.catalog_tree_hash.as_deref().unwrap_or("?"),
            mismatch.vault_bytes,
            mismatch.vault_tree_hash
        ))?;
    }
    more(out, report.mismatched.len())
}

/// Archives of the vault that the catalog does not know, as a table.
fn print_unknown(out: &mut Output, report: &Reconciliation) -> Result<()> {
    out.line(format!("unknown to the catalog: {}", thousands(report.unknown.len() as u64)))?;
    if report.unknown.is_empty() {
        return Ok(());
    }
    let mut rows = vec![vec!["ARCHIVE".to_string(), "SIZE".into(), "CREATED".into(), "DESCRIPTION".into()]];
    for archive in report.unknown.iter().take(SHOWN) {
        let about = match (&archive.bundle, &archive.catalog_state) {
            (Some(bundle), Some(state)) => format!("bundle {bundle} ({state} in the catalog)"),
            (Some(bundle), None) => format!("bundle {bundle}, run {}", archive.run.unwrap_or_default()),
            _ => archive.description.clone(),
        };
        rows.push(vec![archive.archive_id.clone(), format_size(archive.size), archive.creation_date.clone(), about]);
    }
    for line in table(&rows) {
        out.line(format!("  {line}"))?;
    }
    more(out, report.unknown.len())
}

fn more(out: &mut Output, count: usize) -> Result<()> {
    if count > SHOWN {
        out.line(format!("  ... and {} more (all of them with --json)", count - SHOWN))?;
    }
    Ok(())
}
