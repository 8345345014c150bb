//! `esker identities`: list, refresh and look up the names of owners and ACL principals.

use super::ExitCode;

use super::args::IdentitiesCommand;
use super::output::{Output, table, thousands};
use crate::acl::{IdentityKey, Resolution};
use crate::config::Settings;
use crate::error::{Error, Result};
use esker_catalog::Catalog;

pub fn run(settings: &Settings, command: IdentitiesCommand) -> Result<ExitCode> {
    match command {
        IdentitiesCommand::List { unresolved, json } => list(settings, unresolved, json),
        IdentitiesCommand::Refresh { all, json } => refresh(settings, all, json),
        IdentitiesCommand::Lookup { principals, json } => lookup(settings, &principals, json),
    }
}

fn list(settings: &Settings, unresolved: bool, json: bool) -> Result<ExitCode> {
    let rows = match Catalog::open_existing(&settings.catalog)? {
        Some(mut catalog) => catalog.identities()?,
        None => Vec::new(),
    };
    let rows: Vec<_> = rows.into_iter().filter(|row| !unresolved || row.name.is_none()).collect();
    let mut out = Output::new();
    if json {
        for row in &rows {
            out.json(row)?;
        }
    } else if !rows.is_empty() {
        let mut lines = vec![vec!["PRINCIPAL".to_string(), "NAME".into(), "SOURCE".into(), "CHECKED".into()]];
        for row in &rows {
            let name = match (&row.name, &row.error) {
                (Some(name), _) => name.clone(),
                (None, Some(error)) => format!("(unresolved: {error})"),
                (None, None) => "(not found)".into(),
            };
            lines.push(vec![
                row.principal.clone(),
                name,
                row.source.clone(),
                esker_model::time::format_minutes(row.checked_at),
            ]);
        }
        for line in table(&lines) {
            out.line(line)?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn refresh(settings: &Settings, all: bool, json: bool) -> Result<ExitCode> {
    let Some(mut catalog) = Catalog::open_existing(&settings.catalog)? else {
        return Err(Error::Input(format!("no catalog yet at {}", settings.catalog.display())));
    };
    let report = crate::identities::refresh(&mut catalog, settings, &settings.home.index, all)?;
    let mut out = Output::new();
    if json {
        out.json(&report)?;
    } else {
        out.line(format!(
            "checked {} principals: {} named or renamed, {} still unresolved; {} index entries rewritten",
            thousands(report.checked),
            thousands(report.renamed.len() as u64),
            thousands(report.unresolved.len() as u64),
            thousands(report.reindexed)
        ))?;
        for resolution in &report.renamed {
            out.line(format!(
                "  {} = {} ({})",
                resolution.key,
                resolution.name.as_deref().unwrap_or(""),
                resolution.source
            ))?;
        }
        if let Some(error) = &report.ldap_error {
            out.line(format!("LDAP could not be used: {error}"))?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn lookup(settings: &Settings, principals: &[String], json: bool) -> Result<ExitCode> {
    for principal in principals {
        if IdentityKey::parse(principal).is_none() {
            return Err(Error::Input(format!(
                "not a principal: `{principal}` (expected uid:N, gid:N, sid:S-1-…, user:NAME@DOMAIN or group:NAME@DOMAIN)"
            )));
        }
    }
    let resolutions: Vec<Resolution> = crate::identities::lookup(settings, principals);
    let mut out = Output::new();
    if json {
        for resolution in &resolutions {
            out.json(resolution)?;
        }
    } else {
        for resolution in &resolutions {
            let name = match (&resolution.name, &resolution.error) {
                (Some(name), _) => format!("{name} ({})", resolution.source),
                (None, Some(error)) => format!("(unresolved: {error})"),
                (None, None) => "(not found)".into(),
            };
            out.line(format!("{}\t{name}", resolution.key))?;
        }
    }
    out.flush()?;
    let all_found = resolutions.iter().all(|resolution| resolution.name.is_some());
    Ok(if all_found { ExitCode::SUCCESS } else { ExitCode::NOTHING_MATCHED })
}
