//! `esker archive`: the request from the arguments, the run, its summary and exit code.

use super::ExitCode;
use super::args::ArchiveArgs;
use super::output::{Output, money, plural, printable, spinner, thousands};
use crate::archive::{self, ArchiveRequest, Summary};
use crate::config::{Settings, parse_count, parse_jobs, parse_size_value};
use crate::error::Result;
use esker_index::format_size;

pub fn archive(settings: &Settings, args: ArchiveArgs, quiet: bool) -> Result<ExitCode> {
    // Validate everything before anything is written.
    let (roots, mut warnings) = archive::resolve_roots(&args.paths)?;
    let max_files = match &args.max_files {
        Some(text) => parse_count("--max-files", text)?,
        None => settings.archive.max_files,
    };
    let max_size = match &args.max_size {
        Some(text) => parse_size_value("--max-size", text)?,
        None => settings.archive.max_size,
    };
    let jobs = match &args.jobs {
        Some(text) => parse_jobs("--jobs", text)?,
        None => settings.archive.jobs(),
    };
    let store = args.store.clone().unwrap_or_else(|| settings.default_store.clone());
    settings.store(&store)?;
    let mut exclude = settings.archive.exclude.clone();
    exclude.extend(args.exclude.iter().cloned());
    let request = ArchiveRequest {
        roots,
        tags: archive::normalize_tags(&args.tags),
        description: args.description.clone().unwrap_or_default(),
        max_files,
        max_size,
        exclude,
        atime_older_days: args.atime_older,
        atime_newer_days: args.atime_newer,
        group_depth: args.group_depth.or(settings.archive.group_depth),
        store,
        jobs,
        dry_run: args.dry_run,
        checksum: args.checksum,
        xattrs: args.xattrs,
    };
    if !quiet {
        for warning in &warnings {
            eprintln!("warning: {warning}");
        }
    }
    let progress = spinner(quiet);
    let result = archive::archive(settings, &request, &progress);
    progress.finish_and_clear();
    let mut summary = result?;
    summary.warnings.append(&mut warnings);
    let mut out = Output::new();
    if args.json {
        out.json(&summary)?;
    } else {
        print_summary(&mut out, &summary)?;
    }
    out.flush()?;
    Ok(archive_exit(&summary))
}

/// 3 when bundles failed (the run stays incomplete) or files were skipped, changed while
/// read or stored with a clamped mtime; each is listed in the summary.
fn archive_exit(summary: &archive::Summary) -> ExitCode {
    if summary.bundles_failed > 0 {
        eprintln!(
            "error: {} of {} could not be stored (run {} is incomplete; rerun the same command to finish it)",
            summary.bundles_failed,
            plural(summary.bundles + summary.bundles_failed, "bundle"),
            summary.run.unwrap_or_default()
        );
        return ExitCode::PARTIAL;
    }
    if let Some(problem) = &summary.index_damaged {
        eprintln!(
            "error: run {} is complete, but {problem}\nhint: run `esker reindex` to build the index again from the catalog",
            summary.run.unwrap_or_default()
        );
        return ExitCode::INTEGRITY;
    }
    let incomplete = summary.skipped_total() > 0 || summary.files_changed > 0 || summary.files_time_clamped > 0;
    if incomplete && !summary.dry_run { ExitCode::PARTIAL } else { ExitCode::SUCCESS }
}

fn print_estimate(out: &mut Output, estimate: &crate::cost::UploadEstimate) -> Result<()> {
    let line = |what: &str, cost: &crate::cost::StorageCost, class: &str| {
        let minimum = if cost.minimum_days > 0 {
            format!("; billed for at least {} days: {}", cost.minimum_days, money(cost.minimum_storage_cost_usd))
        } else {
            String::new()
        };
        format!(
            "  {what}: {} in {class} ({} billed with per-object overhead): {} requests {}, storage {}/month{minimum}",
            plural(cost.objects, "object"),
            format_size(cost.billed_bytes),
            thousands(cost.requests),
            money(cost.request_cost_usd),
            money(cost.storage_cost_usd_per_month),
        )
    };
    out.line(format!("upload estimate ({}):", estimate.pricing))?;
    out.line(line("bundles", &estimate.bundles, &estimate.storage_class))?;
    out.line(line("manifests", &estimate.manifests, &estimate.manifest_storage_class))?;
    out.line(format!(
        "  total: {} in requests, then {}/month",
        money(estimate.total_request_cost_usd),
        money(estimate.total_storage_cost_usd_per_month)
    ))?;
    out.line(line("one object per file instead", &estimate.one_object_per_file, &estimate.storage_class))?;
    Ok(())
}

fn print_summary(out: &mut Output, summary: &Summary) -> Result<()> {
    print_headline(out, summary)?;
    print_recorded(out, summary)?;
    print_left_out(out, summary)?;
    print_timing(out, summary)
}

/// What was archived (or would be), into which store and run.
fn print_headline(out: &mut Output, summary: &Summary) -> Result<()> {
    if summary.dry_run {
        out.line(format!(
            "dry run: would archive {} ({}) in {} to store `{}`",
            plural(summary.files_planned, "file"),
            format_size(summary.bytes_planned),
            plural(summary.bundles, "bundle"),
            summary.store
        ))?;
    } else {
        let run = summary.run.map(|run| format!(" (run {run}{})", if summary.resumed { ", resumed" } else { "" }));
        out.line(format!(
            "archived {} ({}) in {} to store `{}`{}",
            plural(summary.files_archived, "file"),
            format_size(summary.bytes_archived),
            plural(summary.bundles, "bundle"),
            summary.store,
            run.unwrap_or_default()
        ))?;
        if summary.already_recorded > 0 {
            out.line(format!(
                "{} entries were already recorded by the interrupted run",
                thousands(summary.already_recorded)
            ))?;
        }
    }
    Ok(())
}

/// Files recorded without upload, and what else the run learned.
fn print_recorded(out: &mut Output, summary: &Summary) -> Result<()> {
    let verb = if summary.dry_run { "would be recorded without upload" } else { "recorded, not uploaded again" };
    if summary.files_unchanged > 0 {
        out.line(format!(
            "{} unchanged since the last run ({}): {verb}",
            plural(summary.files_unchanged, "file"),
            format_size(summary.bytes_unchanged)
        ))?;
    }
    if summary.files_deduplicated > 0 {
        out.line(format!(
            "{} with content already stored ({}): {verb}",
            plural(summary.files_deduplicated, "file"),
            format_size(summary.bytes_deduplicated)
        ))?;
    }
    if summary.files_deleted > 0 {
        out.line(format!(
            "{} gone since the last run: marked deleted; archived versions stay findable",
            plural(summary.files_deleted, "file")
        ))?;
    }
    if summary.files_with_xattrs > 0 {
        out.line(format!(
            "{} with extended attributes ({} ACL entries)",
            plural(summary.files_with_xattrs, "file"),
            thousands(summary.acl_entries)
        ))?;
    }
    if let Some(identities) = summary.identities.as_ref().filter(|identities| identities.unresolved > 0) {
        let why = identities.ldap_error.as_deref().map(|error| format!(" ({error})")).unwrap_or_default();
        out.line(format!(
            "{} (owners, groups, ACL entries) without a name{why}: `esker identities refresh` looks them up again",
            plural(identities.unresolved, "principal"),
        ))?;
    }
    Ok(())
}

/// Files skipped, changed while read, or left out by the selection.
fn print_left_out(out: &mut Output, summary: &Summary) -> Result<()> {
    let skipped = summary.skipped_total();
    if skipped > 0 {
        let parts: Vec<String> =
            summary.skipped.iter().map(|(why, count)| format!("{} {why}", thousands(*count))).collect();
        let verb = if summary.dry_run { "would skip" } else { "skipped" };
        out.line(format!("{verb} {}: {}", thousands(skipped), parts.join(", ")))?;
        for example in &summary.skipped_examples {
            out.line(format!("  {}: {}", printable(&example.path), example.reason))?;
        }
        if skipped > summary.skipped_examples.len() as u64 {
            out.line(format!(
                "  … and {} more (esker find 'state:skipped')",
                thousands(skipped - summary.skipped_examples.len() as u64)
            ))?;
        }
    }
    if summary.files_changed > 0 {
        out.line(format!(
            "{} changed while being read: stored as first seen but not counted as archived (archive again to capture them)",
            plural(summary.files_changed, "file")
        ))?;
        for path in &summary.changed_examples {
            out.line(format!("  {}", printable(path)))?;
        }
    }
    if summary.files_time_clamped > 0 {
        out.line(format!(
            "{} modified before 1677 or after 2262: stored, with the nearest modification time the catalog holds",
            plural(summary.files_time_clamped, "file")
        ))?;
        for path in &summary.time_clamped_examples {
            out.line(format!("  {}", printable(path)))?;
        }
    }
    if summary.excluded > 0 || summary.filtered_by_atime > 0 {
        out.line(format!(
            "left out: {} excluded by pattern, {} by access time",
            thousands(summary.excluded),
            thousands(summary.filtered_by_atime)
        ))?;
    }
    Ok(())
}

/// Time and speed, the upload estimate of a dry run, and the warnings.
fn print_timing(out: &mut Output, summary: &Summary) -> Result<()> {
    out.line(format!(
        "elapsed {:.1} s, {} files/s, {}/s",
        summary.elapsed_seconds,
        thousands(summary.files_per_second as u64),
        format_size(summary.bytes_per_second as u64)
    ))?;
    if let Some(estimate) = &summary.upload_estimate {
        print_estimate(out, estimate)?;
    }
    if summary.dry_run {
        out.line("nothing was written")?;
    }
    for warning in &summary.warnings {
        eprintln!("warning: {}", printable(warning));
    }
    Ok(())
}
