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
use crate::http::admin::{grid_filter_query, selection_from_grid_params};
use crate::store::SelectionFilter;

pub async fn bulk(config: Config, args: BulkArgs) -> anyhow::Result<()> {
    let action = Action::parse(&args.action)
        .context("--action must be reset_password, unlock or force_sign_in")?;
    let Chosen {
        filter,
        described,
        grid_filter,
    } = selection(&args)?;
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
        counted.pin,
        &described,
        &grid_filter,
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

/// The grid filter parameters of the flags of the same names.
const FILTER_FLAGS: [&str; 7] = [
    "locked",
    "has_tokens",
    "signed_in",
    "created_from",
    "created_to",
    "last_sign_in_from",
    "last_sign_in_to",
];

/// What the arguments select: the customers, those words for the record, and
/// the grid filter's query (empty for listed ids).
struct Chosen {
    filter: SelectionFilter,
    described: String,
    grid_filter: String,
}

/// The customers the arguments name: listed ids, or every customer the grid
/// shows with the same keyword and filters. A value the grid would ignore
/// with a notice is an error here: a script gets no notice.
fn selection(args: &BulkArgs) -> anyhow::Result<Chosen> {
    let has_filters = args.q.is_some()
        || !args.filters.is_empty()
        || filter_flags(args).iter().any(|(_, v)| v.is_some());
    if !args.ids.is_empty() {
        if has_filters {
            bail!("--ids cannot be combined with --q or grid filters");
        }
        if args.ids.len() > super::MAX_IDS || args.ids.iter().any(|id| *id <= 0) {
            bail!("--ids takes up to {} positive ids", super::MAX_IDS);
        }
        return Ok(Chosen {
            filter: SelectionFilter::Ids(args.ids.clone()),
            described: format!("{} listed customers", args.ids.len()),
            grid_filter: String::new(),
        });
    }
    let mut params: HashMap<String, String> = HashMap::new();
    for pair in &args.filters {
        let (name, value) = pair
            .split_once('=')
            .with_context(|| format!("--filter {pair:?} is not NAME=VALUE"))?;
        let name = name.trim();
        if name != "q" && !FILTER_FLAGS.contains(&name) {
            bail!(
                "--filter {name:?} is no grid filter (q, {})",
                FILTER_FLAGS.join(", ")
            );
        }
        params.insert(name.to_string(), value.to_string());
    }
    for (name, value) in filter_flags(args) {
        if let Some(value) = value {
            params.insert(name.to_string(), value.clone());
        }
    }
    if let Some(q) = &args.q {
        params.insert("q".into(), q.clone());
    }
    let (filter, grid, bad) = selection_from_grid_params(&params);
    if let Some(bad) = bad.first() {
        bail!(
            "{}={:?} is not a value the grid understands",
            bad.name,
            bad.value
        );
    }
    let grid_filter = grid_filter_query(&grid);
    let described = if grid_filter.is_empty() {
        "all customers".to_string()
    } else {
        format!("all customers matching {grid_filter}")
    };
    Ok(Chosen {
        filter,
        described,
        grid_filter,
    })
}

fn filter_flags(args: &BulkArgs) -> [(&'static str, &Option<String>); 7] {
    [
        ("locked", &args.locked),
        ("has_tokens", &args.has_tokens),
        ("signed_in", &args.signed_in),
        ("created_from", &args.created_from),
        ("created_to", &args.created_to),
        ("last_sign_in_from", &args.last_sign_in_from),
        ("last_sign_in_to", &args.last_sign_in_to),
    ]
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
