//! The commands: turn parsed arguments into library calls and print the results.

use super::ExitCode;

use super::args::{ConfigCommand, FindArgs, ListArgs};
use super::output::{Output, plural, printable, spinner, table, thousands};
use crate::config::Settings;
use crate::error::{Error, Result};
use esker_catalog::Catalog;
use esker_index::format_size;

pub fn find(settings: &Settings, args: FindArgs) -> Result<ExitCode> {
    let query = crate::search::parse_query(&args.query.join(" "))?;
    let limit = (args.limit > 0).then_some(args.limit);
    let mut finder = crate::search::Finder::open(settings)?;
    let result = finder.find(&query, limit, args.all_versions)?;
    let mut out = Output::new();
    if args.json {
        for found in &result.matches {
            out.json(found)?;
        }
    } else if !result.matches.is_empty() {
        let mut header = vec!["SIZE".to_string(), "MODIFIED".into(), "OWNER".into(), "BUNDLE".into(), "PATH".into()];
        if args.all_versions {
            header.insert(0, "RUN".into());
        }
        let mut rows = vec![header];
        for found in &result.matches {
            let bundle = match (&found.bundle, found.state.as_str()) {
                (Some(bundle), "archived") => bundle.clone(),
                (_, state) => format!("({state})"),
            };
            let path = if found.kind == "dir" { format!("{}/", found.path) } else { found.path.clone() };
            let mut row = vec![
                format_size(found.size.max(0) as u64),
                esker_model::time::format_minutes(found.mtime_ns.div_euclid(1_000_000_000)),
                found.owner.clone().unwrap_or_else(|| found.uid.to_string()),
                bundle,
                printable(&path),
            ];
            if args.all_versions {
                row.insert(0, found.run.to_string());
            }
            rows.push(row);
        }
        for line in table(&rows) {
            out.line(line)?;
        }
    }
    out.flush()?;
    if result.empty_catalog {
        eprintln!("nothing archived yet in {}", settings.home.data.display());
    }
    if result.total > result.matches.len() {
        let of = if result.total_is_upper_bound { "up to " } else { "" };
        eprintln!(
            "showing {} of {of}{} matches (use --limit N, or --limit 0 for all)",
            result.matches.len(),
            thousands(result.total as u64)
        );
    }
    Ok(if result.matches.is_empty() { ExitCode::NOTHING_MATCHED } else { ExitCode::SUCCESS })
}

pub fn bundles(settings: &Settings, args: ListArgs) -> Result<ExitCode> {
    let bundles = match Catalog::open_existing(&settings.catalog)? {
        Some(mut catalog) => catalog.list_bundles(None)?,
        None => Vec::new(),
    };
    let mut out = Output::new();
    if args.json {
        for bundle in &bundles {
            out.json(&serde_json::json!({
                "id": bundle.uuid,
                "run": bundle.run_id,
                "store": bundle.store,
                "key": bundle.object_key,
                "manifest_key": bundle.manifest_key,
                "storage_class": bundle.storage_class,
                "files": bundle.file_count,
                "data_bytes": bundle.data_bytes,
                "bytes": bundle.bytes,
                "state": bundle.state,
                "blake3": bundle.blake3,
                "sha256": bundle.sha256,
                "tree_hash": bundle.tree_hash,
                "error": bundle.error,
                "created_at": esker_model::time::format_rfc3339(bundle.created_at),
                "stored_at": bundle.stored_at.map(esker_model::time::format_rfc3339),
            }))?;
        }
    } else {
        let mut rows = vec![vec![
            "ID".to_string(),
            "RUN".into(),
            "STATE".into(),
            "FILES".into(),
            "BYTES".into(),
            "STORE".into(),
            "KEY".into(),
        ]];
        for bundle in &bundles {
            rows.push(vec![
                bundle.uuid.clone(),
                bundle.run_id.to_string(),
                bundle.state.to_string(),
                thousands(bundle.file_count.max(0) as u64),
                format_size(bundle.bytes.unwrap_or(bundle.data_bytes).max(0) as u64),
                bundle.store.clone(),
                bundle.object_key.clone(),
            ]);
        }
        if bundles.is_empty() {
            eprintln!("no bundles yet");
        } else {
            for line in table(&rows) {
                out.line(line)?;
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

pub fn runs(settings: &Settings, args: ListArgs) -> Result<ExitCode> {
    let runs = match Catalog::open_existing(&settings.catalog)? {
        Some(mut catalog) => catalog.list_runs()?,
        None => Vec::new(),
    };
    let mut out = Output::new();
    if args.json {
        for run in &runs {
            out.json(&serde_json::json!({
                "id": run.id,
                "state": run.state,
                "host": run.host,
                "roots": run.root_list(),
                "store": run.store,
                "tags": run.tag_list(),
                "description": run.description,
                "started_at": esker_model::time::format_rfc3339(run.started_at),
                "finished_at": run.finished_at.map(esker_model::time::format_rfc3339),
                "files_archived": run.files_archived,
                "bytes_archived": run.bytes_archived,
                "files_skipped": run.files_skipped,
                "bundles": run.bundles,
            }))?;
        }
    } else if runs.is_empty() {
        eprintln!("no runs yet");
    } else {
        let mut rows = vec![vec![
            "ID".to_string(),
            "STATE".into(),
            "STARTED".into(),
            "FILES".into(),
            "BYTES".into(),
            "BUNDLES".into(),
            "SKIPPED".into(),
            "TAGS".into(),
            "ROOTS".into(),
        ]];
        for run in &runs {
            rows.push(vec![
                run.id.to_string(),
                run.state.to_string(),
                esker_model::time::format_minutes(run.started_at),
                thousands(run.files_archived.max(0) as u64),
                format_size(run.bytes_archived.max(0) as u64),
                thousands(run.bundles.max(0) as u64),
                thousands(run.files_skipped.max(0) as u64),
                run.tag_list().join(","),
                run.root_list().join(" "),
            ]);
        }
        for line in table(&rows) {
            out.line(line)?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

pub fn status(settings: &Settings, args: super::args::StatusArgs) -> Result<ExitCode> {
    let units = crate::status::status(settings, &args.root, args.depth)?;
    let mut out = Output::new();
    let columns = |unit: &crate::status::UnitStatus| -> Vec<String> {
        vec![
            unit.unit.clone(),
            unit.state.to_string(),
            unit.local_files.to_string(),
            unit.local_bytes.to_string(),
            unit.newest_mtime.clone().unwrap_or_default(),
            unit.archived_files.to_string(),
            unit.archived_bytes.to_string(),
            unit.last_archived.clone().unwrap_or_default(),
        ]
    };
    if args.json {
        for unit in &units {
            out.json(unit)?;
        }
    } else if args.csv {
        out.line("unit,state,local_files,local_bytes,newest_mtime,archived_files,archived_bytes,last_archived")?;
        for unit in &units {
            let cells: Vec<String> = columns(unit).into_iter().map(|cell| csv_cell(&cell)).collect();
            out.line(cells.join(","))?;
        }
    } else if units.is_empty() {
        eprintln!("nothing on disk or in the catalog under {}", args.root.display());
    } else {
        let mut rows = vec![vec![
            "UNIT".to_string(),
            "STATE".into(),
            "LOCAL".into(),
            "LOCAL BYTES".into(),
            "NEWEST".into(),
            "ARCHIVED".into(),
            "ARCHIVED BYTES".into(),
            "LAST ARCHIVED".into(),
        ]];
        for unit in &units {
            rows.push(vec![
                printable(&unit.unit),
                unit.state.to_string(),
                thousands(unit.local_files),
                format_size(unit.local_bytes),
                unit.newest_mtime.clone().unwrap_or_default().replace('T', " ").trim_end_matches('Z').to_string(),
                thousands(unit.archived_files),
                format_size(unit.archived_bytes),
                unit.last_archived.clone().unwrap_or_default().replace('T', " ").trim_end_matches('Z').to_string(),
            ]);
        }
        for line in table(&rows) {
            out.line(line)?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// A CSV field, quoted when it holds a comma, quote or line break.
fn csv_cell(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text.to_string() }
}

pub fn reindex(settings: &Settings, quiet: bool, incremental: bool) -> Result<ExitCode> {
    let Some(mut catalog) = Catalog::open_existing(&settings.catalog)? else {
        return Err(Error::Input(format!(
            "no catalog at {} yet: archive something first",
            settings.home.catalog.display()
        )));
    };
    let progress = spinner(quiet);
    let report = if incremental {
        crate::search::catch_up(&mut catalog, &settings.home.index, |count| {
            progress.set_message(format!("indexed {count} files"));
        })
    } else {
        crate::search::rebuild(&mut catalog, &settings.home.index, |count| {
            progress.set_message(format!("indexed {count} files"));
        })
    };
    progress.finish_and_clear();
    let report = report?;
    let mut out = Output::new();
    out.line(format!("indexed {} (catalog commit {})", plural(report.indexed, "file"), report.last_file_id))?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

pub fn catalog(settings: &Settings, command: super::args::CatalogCommand) -> Result<ExitCode> {
    use super::args::CatalogCommand;
    let mut out = Output::new();
    match command {
        CatalogCommand::Migrate => {
            prepare_home(settings)?;
            let mut catalog = Catalog::open(&settings.catalog)?;
            let status = catalog.schema_status()?;
            out.line(format!(
                "{} catalog at {}: schema up to date ({} migrations)",
                status.backend,
                status.location,
                status.applied.len()
            ))?;
        }
        CatalogCommand::Status { json } => catalog_status(settings, &mut out, json)?,
        CatalogCommand::Check { json } => return catalog_check(settings, out, json),
        CatalogCommand::Export { file } => {
            let Some(mut catalog) = Catalog::open_existing(&settings.catalog)? else {
                return Err(Error::Input(format!("no catalog at {} to export", settings.catalog.display())));
            };
            let report = catalog.export(&file)?;
            out.line(format!(
                "exported {}, {}, {} to {}",
                plural(report.runs, "run"),
                plural(report.bundles, "bundle"),
                plural(report.files, "file"),
                file.display()
            ))?;
        }
        CatalogCommand::Import { file } => catalog_import(settings, &mut out, &file)?,
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// A SQLite catalog lives in the home folder, which must exist before it is created.
fn prepare_home(settings: &Settings) -> Result<()> {
    if let esker_catalog::CatalogLocation::Sqlite(_) = settings.catalog {
        settings.home.ensure()?;
    }
    Ok(())
}

/// `catalog status`: the backend, where it is and which migrations are applied.
fn catalog_status(settings: &Settings, out: &mut Output, json: bool) -> Result<()> {
    let Some(mut catalog) =
        Catalog::open_for_reading(&settings.catalog).ok().flatten().or(Catalog::open_existing(&settings.catalog)?)
    else {
        return Err(Error::Input(format!("no catalog at {} yet", settings.catalog.display())));
    };
    let status = catalog.schema_status()?;
    if json {
        return out.json(&status);
    }
    out.line(format!("backend: {}", status.backend))?;
    out.line(format!("location: {}", status.location))?;
    out.line(format!("applied: {}", status.applied.join(", ")))?;
    let pending = if status.pending.is_empty() { "none".into() } else { status.pending.join(", ") };
    out.line(format!("pending: {pending}"))
}

/// `catalog check`: 0 when the catalog's storage is sound, 4 with each problem when not.
fn catalog_check(settings: &Settings, mut out: Output, json: bool) -> Result<ExitCode> {
    let Some(mut catalog) = Catalog::open_for_reading(&settings.catalog)? else {
        return Err(Error::Input(format!("no up-to-date catalog at {} to check", settings.catalog.display())));
    };
    let report = catalog.check()?;
    if json {
        out.json(&report)?;
    } else if report.problems.is_empty() {
        out.line(format!("catalog {}: no problems found", report.location))?;
    } else {
        for problem in &report.problems {
            eprintln!("damaged: {}: {problem}", report.location);
        }
    }
    out.flush()?;
    Ok(if report.problems.is_empty() { ExitCode::SUCCESS } else { ExitCode::INTEGRITY })
}

/// `catalog import`: the export's rows into the catalog, then the index rebuilt from them
/// (the index is derived from the catalog).
fn catalog_import(settings: &Settings, out: &mut Output, file: &std::path::Path) -> Result<()> {
    if !file.is_file() {
        return Err(Error::Input(format!("{}: no such export file", file.display())));
    }
    prepare_home(settings)?;
    let mut catalog = Catalog::open(&settings.catalog)?;
    let report = catalog.import(file)?;
    out.line(format!(
        "imported {}, {}, {} into {}",
        plural(report.runs, "run"),
        plural(report.bundles, "bundle"),
        plural(report.files, "file"),
        settings.catalog.display()
    ))?;
    let report = crate::search::rebuild(&mut catalog, &settings.home.index, |_| {})?;
    out.line(format!("indexed {}", plural(report.indexed, "file")))
}

pub fn config(settings: &Settings, command: ConfigCommand) -> Result<ExitCode> {
    let ConfigCommand::Show { json } = command;
    let mut value = serde_json::to_value(settings).map_err(|error| Error::Input(error.to_string()))?;
    mask_secrets(&mut value);
    let mut out = Output::new();
    if json {
        out.json(&value)?;
    } else {
        drop_nulls(&mut value);
        let text = toml::to_string_pretty(&value).map_err(|error| Error::Input(error.to_string()))?;
        out.line(text.trim_end())?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// TOML has no null: leave unset values out.
fn drop_nulls(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            map.retain(|_, inner| !inner.is_null());
            map.values_mut().for_each(drop_nulls);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// Replaces the values of secret-looking keys with `********`.
fn mask_secrets(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, inner) in map.iter_mut() {
                let lower = key.to_ascii_lowercase();
                if ["password", "secret", "token", "credential"].iter().any(|word| lower.contains(word))
                    && !inner.is_null()
                {
                    *inner = serde_json::Value::String("********".into());
                } else {
                    mask_secrets(inner);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(mask_secrets),
        _ => {}
    }
}
