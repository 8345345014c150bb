//! The retrieval commands: `retrieve`, `jobs`, `poll`.

use super::ExitCode;
use std::time::Duration;

use super::args::{ListArgs, PollArgs, RetrieveArgs};
use super::output::{Output, money, plural, printable, table, thousands};
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::poll::{PollReport, poll_once};
use crate::retrieve::{RetrievalEstimate, RetrieveOutcome, RetrieveRequest, Version, retrieve as run_retrieve};
use esker_catalog::Catalog;
use esker_index::format_size;

pub fn retrieve(settings: &Settings, args: RetrieveArgs) -> Result<ExitCode> {
    let request = retrieve_request(&args)?;
    let outcome = run_retrieve(settings, &request)?;
    let mut out = Output::new();
    if args.json {
        match &outcome {
            RetrieveOutcome::Estimate { estimate } => out.json(estimate)?,
            other => out.json(other)?,
        }
    }
    let code = match &outcome {
        RetrieveOutcome::Empty => {
            eprintln!("nothing to retrieve: the selection matches no stored file");
            ExitCode::NOTHING_MATCHED
        }
        RetrieveOutcome::Estimate { estimate } => {
            if !args.json {
                print_estimate(&mut out, estimate, &request.tier)?;
                out.line("dry run: nothing was requested")?;
            }
            ExitCode::SUCCESS
        }
        RetrieveOutcome::Refused { estimate, reasons } => {
            if !args.json {
                print_estimate(&mut out, estimate, &request.tier)?;
            }
            out.flush()?;
            for reason in reasons {
                eprintln!("error: not retrieving: {reason}");
            }
            eprintln!("hint: check the estimate above, then add --yes to go ahead");
            ExitCode::GUARD
        }
        RetrieveOutcome::Started { report, .. } => {
            if !args.json {
                print_started(&mut out, &outcome, &request)?;
            }
            report_code(report)
        }
    };
    out.flush()?;
    Ok(code)
}

/// The request the arguments describe; a bad destination or date is an input error.
fn retrieve_request(args: &RetrieveArgs) -> Result<RetrieveRequest> {
    let destination = match (&args.to, args.dry_run) {
        (Some(to), _) => crate::config::absolute(to)?,
        (None, true) => std::env::temp_dir(),
        (None, false) => return Err(Error::Input("missing --to DIR: where should the files go?".into())),
    };
    if destination.exists() && !destination.is_dir() {
        return Err(Error::Input(format!("--to {}: exists and is not a folder", destination.display())));
    }
    let version = match (&args.run, &args.before) {
        (Some(run), _) => Version::Run(*run),
        (None, Some(date)) => Version::Before(esker_model::time::parse_date(date).ok_or_else(|| {
            Error::Input(format!("invalid value `{date}` for --before: expected YYYY-MM-DD[THH:MM[:SS]]"))
        })?),
        (None, None) => Version::Latest,
    };
    Ok(RetrieveRequest {
        query: (!args.query.is_empty()).then(|| args.query.join(" ")),
        bundles: args.bundles.clone(),
        files: args.files.clone(),
        version,
        destination,
        tier: args.tier.clone(),
        days: args.days.max(1),
        dry_run: args.dry_run,
        yes: args.yes,
        overwrite: args.overwrite,
        xattrs: args.xattrs,
    })
}

/// What a started retrieval asked for and what it restored already.
fn print_started(out: &mut Output, outcome: &RetrieveOutcome, request: &RetrieveRequest) -> Result<()> {
    let RetrieveOutcome::Started { retrieval, estimate, jobs, restores_reused, report } = outcome else {
        return Ok(());
    };
    out.line(format!(
        "retrieval {retrieval}: {} ({}) from {} into {}",
        plural(estimate.files, "file"),
        format_size(estimate.bytes),
        plural(*jobs, "bundle"),
        request.destination.display()
    ))?;
    if *restores_reused > 0 {
        out.line(format!(
            "{} already being restored: reused, not requested again",
            plural(*restores_reused, "bundle")
        ))?;
    }
    print_report(out, report)?;
    if report.jobs_waiting > 0 {
        out.line(format!(
            "{} waiting for restores; `esker poll` finishes them (see `esker jobs`)",
            plural(report.jobs_waiting, "job")
        ))?;
    }
    Ok(())
}

fn print_estimate(out: &mut Output, estimate: &RetrievalEstimate, tier: &str) -> Result<()> {
    out.line(format!(
        "retrieve {} ({}) from {}",
        plural(estimate.files, "file"),
        format_size(estimate.bytes),
        plural(estimate.bundles, "bundle")
    ))?;
    if estimate.not_stored > 0 {
        out.line(format!(
            "{} matched but were never stored (skipped when archived)",
            plural(estimate.not_stored, "file")
        ))?;
    }
    out.line(format!(
        "restore {} ({} requests), download {} in {} requests, restored copies kept {} days",
        format_size(estimate.bytes_restored),
        thousands(estimate.restore_requests),
        format_size(estimate.bytes_downloaded),
        thousands(estimate.download_requests),
        estimate.days
    ))?;
    let mut rows = vec![vec![
        "TIER".to_string(),
        "COST".into(),
        "READY IN".into(),
        "RETRIEVAL".into(),
        "REQUESTS".into(),
        "EGRESS".into(),
        "RESTORED COPY".into(),
    ]];
    for option in &estimate.tiers {
        let marker = if option.tier == tier { " *" } else { "" };
        rows.push(vec![
            format!("{}{marker}", option.tier),
            money(option.cost_usd),
            format_wait(option.hours),
            money(option.breakdown.retrieval_per_gb_usd),
            money(option.breakdown.requests_usd),
            money(option.breakdown.egress_usd),
            money(option.breakdown.restored_storage_usd),
        ]);
    }
    for line in table(&rows) {
        out.line(line)?;
    }
    if let Some(pricing) = &estimate.pricing {
        out.line(format!("({pricing})"))?;
    }
    Ok(())
}

/// "now", "~30 s", "~5 min", "~12 h".
fn format_wait(hours: f64) -> String {
    let seconds = hours * 3600.0;
    if seconds <= 0.0 {
        "now".into()
    } else if seconds < 90.0 {
        format!("~{seconds:.0} s")
    } else if seconds < 5400.0 {
        format!("~{:.0} min", seconds / 60.0)
    } else {
        format!("~{hours:.0} h")
    }
}

fn print_report(out: &mut Output, report: &PollReport) -> Result<()> {
    if report.files_done > 0 || report.files_failed > 0 {
        let present = match report.files_present {
            0 => String::new(),
            count => format!(", {} already in place", thousands(count)),
        };
        out.line(format!(
            "restored {} ({} downloaded{present}), {} failed",
            plural(report.files_done, "file"),
            format_size(report.bytes_downloaded),
            thousands(report.files_failed)
        ))?;
        if report.files_changed > 0 {
            out.line(format!(
                "{} changed while archived and may not match any version (listed below)",
                plural(report.files_changed, "file")
            ))?;
        }
        if report.files_failed > 0 {
            out.line("failed files and why: esker jobs --json (field `failures`)")?;
        }
    }
    if report.inventories_done + report.inventories_waiting + report.inventories_failed > 0 {
        out.line(format!(
            "inventories: {} fetched, {} waiting, {} failed",
            thousands(report.inventories_done),
            thousands(report.inventories_waiting),
            thousands(report.inventories_failed)
        ))?;
    }
    for error in &report.errors {
        eprintln!("error: {}", printable(error));
    }
    for warning in &report.warnings {
        eprintln!("warning: {}", printable(warning));
    }
    Ok(())
}

fn report_code(report: &PollReport) -> ExitCode {
    if report.files_corrupt > 0 || report.bundles_damaged > 0 {
        ExitCode::INTEGRITY
    } else if report.files_failed > 0
        || report.files_changed > 0
        || report.jobs_failed > 0
        || report.inventories_failed > 0
    {
        ExitCode::PARTIAL
    } else {
        ExitCode::SUCCESS
    }
}

pub fn jobs(settings: &Settings, args: ListArgs) -> Result<ExitCode> {
    let jobs = match Catalog::open_existing(&settings.catalog)? {
        Some(mut catalog) => catalog.list_jobs()?,
        None => Vec::new(),
    };
    let mut out = Output::new();
    if args.json {
        for job in &jobs {
            out.json(job)?;
        }
    } else if jobs.is_empty() {
        eprintln!("no retrieval jobs");
    } else {
        let mut rows = vec![vec![
            "JOB".to_string(),
            "RETRIEVAL".into(),
            "BUNDLE".into(),
            "TIER".into(),
            "STATE".into(),
            "FILES".into(),
            "REQUESTED".into(),
            "ERROR".into(),
        ]];
        for view in &jobs {
            rows.push(vec![
                view.job.id.to_string(),
                view.job.retrieval_id.to_string(),
                view.bundle.clone(),
                view.job.tier.clone(),
                view.job.state.to_string(),
                format!("{}/{}", view.files_done, view.files),
                esker_model::time::format_minutes(view.job.requested_at),
                view.job.error.clone().unwrap_or_default(),
            ]);
        }
        for line in table(&rows) {
            out.line(line)?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

pub fn poll(settings: &Settings, args: PollArgs) -> Result<ExitCode> {
    loop {
        let report = match Catalog::open_existing(&settings.catalog)? {
            Some(mut catalog) => poll_once(settings, &mut catalog, None)?,
            None => PollReport::default(),
        };
        let mut out = Output::new();
        if args.json {
            out.json(&report)?;
        } else {
            print_report(&mut out, &report)?;
            eprintln!(
                "poll: {} checked, {} done, {} waiting, {} failed, {} busy elsewhere",
                plural(report.jobs_checked, "job"),
                thousands(report.jobs_done),
                thousands(report.jobs_waiting),
                thousands(report.jobs_failed),
                thousands(report.jobs_busy)
            );
        }
        out.flush()?;
        if args.once {
            return Ok(report_code(&report));
        }
        std::thread::sleep(Duration::from_secs(args.interval.max(1)));
    }
}
