//! `shop-accounts customers bulk`: the grid's bulk actions for operators who
//! script them. The same selection (through the grid's parameters), the same
//! exact count before anything starts, the same job.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::sync::watch;

use super::{Action, JobRunner, Starter};
use crate::config::{BulkArgs, Config};
use crate::http::admin::selection_from_grid_params;
use crate::store::SelectionFilter;

pub async fn bulk(config: Config, args: BulkArgs) -> anyhow::Result<()> {
    let action = Action::parse(&args.action)
        .context("--action must be reset_password, unlock or force_sign_in")?;
    let (filter, described) = selection(&args)?;
    let state = crate::app::tool_state(config).await?;
    let counted = super::count(&state, &filter, None).await?;
    println!(
        "{} customers selected ({described}) for {}",
        counted.count,
        action.code()
    );
    if counted.count == 0 {
        println!("nothing to do");
        return Ok(());
    }
    if !args.yes && !confirmed()? {
        println!("not started");
        return Ok(());
    }
    let job = super::start(
        &state,
        action,
        &filter,
        counted.upto,
        &described,
        &Starter {
            admin_id: None,
            admin_email: "cli",
            client_ip: "cli",
        },
    )
    .await?;
    println!(
        "job {} queued: {} customers ({}/admin/jobs/{})",
        job.id,
        job.total,
        state.config.base(),
        job.id
    );
    if !args.wait {
        return Ok(());
    }
    let started = Instant::now();
    let (stop_tx, stop_rx) = watch::channel(false);
    let runner = tokio::spawn(JobRunner::new(state.clone()).run(stop_rx));
    let last = loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let Some(now) = state.db.job(job.id).await? else {
            bail!("job {} vanished", job.id);
        };
        println!(
            "{}: {} done, {} skipped, {} failed of {}",
            now.state, now.done, now.skipped, now.failed, now.total
        );
        if matches!(now.state.as_str(), "done" | "cancelled") {
            break now;
        }
    };
    let _ = stop_tx.send(true);
    let _ = runner.await;
    println!(
        "job {} {} after {:.1} s",
        last.id,
        last.state,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The customers the arguments name, and those words for the record.
fn selection(args: &BulkArgs) -> anyhow::Result<(SelectionFilter, String)> {
    if !args.ids.is_empty() {
        if args.ids.len() > super::MAX_IDS || args.ids.iter().any(|id| *id <= 0) {
            bail!("--ids takes up to {} positive ids", super::MAX_IDS);
        }
        let described = format!("{} listed customers", args.ids.len());
        return Ok((SelectionFilter::Ids(args.ids.clone()), described));
    }
    let mut params: HashMap<String, String> = HashMap::new();
    for pair in &args.filters {
        let (name, value) = pair
            .split_once('=')
            .with_context(|| format!("--filter {pair:?} is not NAME=VALUE"))?;
        params.insert(name.trim().to_string(), value.to_string());
    }
    if let Some(q) = &args.q {
        params.insert("q".into(), q.clone());
    }
    let described = match params.get("q").map(|q| q.trim()).filter(|q| !q.is_empty()) {
        Some(q) => format!("all customers matching {q:?}"),
        None => "all customers".to_string(),
    };
    Ok((selection_from_grid_params(&params), described))
}

/// Asks on the terminal (or reads a line from a pipe): only `y` or `yes` starts.
fn confirmed() -> anyhow::Result<bool> {
    eprint!("Start? [y/N] ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(
        line.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}
