//! Storefront and REST reset requests are written in groups. A request that
//! arrives while a group is being written joins the next one, so under load one
//! transaction carries every request that came in meanwhile: its commit (the
//! SQLite write lock, the PostgreSQL WAL flush: most of what a request cost
//! alone) is shared, and its writes are one statement per step for the whole
//! group. Alone, a request is a group of one and waits for nobody. (On
//! PostgreSQL with the request limits on, each request is written alone, in
//! its own task: its limits are checked under locks on its own keys, so
//! requests for other keys go side by side rather than one after another in a
//! group.)
//!
//! The writer is a task of its own, on PostgreSQL with a connection of its own:
//! a client that hangs up cannot cut a group short, and the writer never queues
//! behind the requests for a connection. Each request is written, or refused, whole. (A
//! writer on a thread of its own was tried: its groups came round faster but
//! held 4–7 requests instead of about 30, and the statements per request cost
//! more CPU than the wait saved: 1,560 known-address requests/s instead of
//! 1,980 on PostgreSQL.)

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};

use super::{LinkToSend, RequestError, check_limits_in, limits, write_links_in};
use crate::accounts::Email;
use crate::settings::PasswordOptions;
use crate::state::AppState;
use crate::store::{Db, RequestKeys};
use crate::work::Work;

/// Requests in one transaction at most.
const MAX_GROUP: usize = 128;
/// Requests waiting for the writer at most; more wait to get in line.
const QUEUE: usize = 1_024;

/// One request for a link, as the writer takes it.
pub(super) struct ResetRequest {
    pub email: Email,
    /// The options the request was answered under (its limits).
    pub options: PasswordOptions,
    pub client_ip: IpAddr,
    /// The link and mail to write, when the address has an account.
    pub link: Option<LinkToSend<'static>>,
}

struct Waiting {
    request: ResetRequest,
    answer: oneshot::Sender<Result<(), RequestError>>,
}

/// The instance's writer of reset requests (in `AppState`).
#[derive(Default)]
pub struct ResetWriter {
    /// The way to the writer task, once started; taken by `stop`.
    queue: Mutex<Option<mpsc::Sender<Waiting>>>,
    /// Groups committed by this instance (the metric counts every instance of
    /// the process).
    groups: AtomicU64,
}

impl std::fmt::Debug for ResetWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResetWriter")
    }
}

impl ResetWriter {
    pub fn new() -> Arc<ResetWriter> {
        Arc::new(ResetWriter::default())
    }

    /// Writes `request` with the group it lands in; its own outcome.
    pub(super) async fn write(
        &self,
        state: &AppState,
        request: ResetRequest,
    ) -> Result<(), RequestError> {
        let queue = self.queue(state);
        let (answer, outcome) = oneshot::channel();
        queue
            .send(Waiting { request, answer })
            .await
            .map_err(|_| anyhow::anyhow!("the reset request writer stopped"))?;
        outcome
            .await
            .map_err(|_| anyhow::anyhow!("the reset request writer dropped a request"))?
    }

    /// The writer's queue, starting the writer on first use.
    fn queue(&self, state: &AppState) -> mpsc::Sender<Waiting> {
        let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(sender) = queue.as_ref() {
            return sender.clone();
        }
        let (sender, receiver) = mpsc::channel(QUEUE);
        let state = state.clone();
        tokio::spawn(async move {
            let db = state.db.dedicated(1);
            write_groups(&state, &db, receiver).await;
            if let Db::Postgres(pool) = db {
                pool.close().await; // its own pool (Db::dedicated)
            }
        });
        *queue = Some(sender.clone());
        sender
    }

    /// Lets the writer finish the requests it was given, then end (the
    /// instance is shutting down; the next request would start it again).
    pub fn stop(&self) {
        self.queue.lock().unwrap_or_else(|p| p.into_inner()).take();
    }

    /// How many groups this writer committed.
    pub fn groups_written(&self) -> u64 {
        self.groups.load(Ordering::Relaxed)
    }
}

/// `request` in a transaction of its own, on the shared pool, in the caller's task.
pub(super) async fn write_alone(
    state: &AppState,
    request: ResetRequest,
) -> Result<(), RequestError> {
    write_group(state, &state.db, &[&request])
        .await?
        .pop()
        .unwrap_or(Ok(()))
}

async fn write_groups(state: &AppState, db: &Db, mut queue: mpsc::Receiver<Waiting>) {
    let mut held: Option<Waiting> = None;
    loop {
        let first = match held.take() {
            Some(first) => first,
            None => match queue.recv().await {
                Some(first) => first,
                None => return,
            },
        };
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            let Ok(next) = queue.try_recv() else { break };
            // A customer's new link replaces their last one: two of their
            // requests go in two groups, in the order they came.
            if next.customer_id().is_some()
                && group.iter().any(|w| w.customer_id() == next.customer_id())
            {
                held = Some(next);
                break;
            }
            group.push(next);
        }
        let requests: Vec<&ResetRequest> = group.iter().map(|w| &w.request).collect();
        match write_group(state, db, &requests).await {
            Ok(outcomes) => {
                metrics::counter!("shop_password_reset_groups_total").increment(1);
                state.resets.groups.fetch_add(1, Ordering::Relaxed);
                for (waiting, outcome) in group.into_iter().zip(outcomes) {
                    // The client may have hung up: its request stands anyway.
                    let _ = waiting.answer.send(outcome);
                }
            }
            Err(e) => {
                let shared = Arc::new(e);
                for waiting in group {
                    let e = anyhow::Error::new(GroupFailed(shared.clone()));
                    let _ = waiting.answer.send(Err(RequestError::Internal(e)));
                }
            }
        }
    }
}

impl Waiting {
    fn customer_id(&self) -> Option<i64> {
        self.request.link.as_ref().map(|l| l.customer_id)
    }
}

/// One transaction for the group: each request's limits in turn (a refused one
/// leaves nothing), then every allowed link, mail and timeline event with one
/// statement per step. The outcomes in the group's order; an `Err` fails the
/// whole group, with nothing written.
async fn write_group(
    state: &AppState,
    db: &Db,
    group: &[&ResetRequest],
) -> Result<Vec<Result<(), RequestError>>, RequestError> {
    let now = state.now();
    let mut work = Work::begin_on(state, db).await?;
    let mut outcomes = Vec::with_capacity(group.len());
    let mut links = Vec::with_capacity(group.len());
    for request in group {
        let protection = request.options.protection_type;
        let keys = RequestKeys {
            client_ip: protection
                .counts_ip()
                .then(|| limits::limit_key(request.client_ip)),
            email_key: protection.counts_email().then(|| request.email.key()),
        };
        match check_limits_in(&mut work, &keys, now, &request.options).await {
            Ok(()) => {
                match &request.link {
                    Some(link) => links.push(link),
                    None => metrics::counter!("shop_password_reset_requested_total").increment(1),
                }
                outcomes.push(Ok(()));
            }
            Err(RequestError::Limited) => outcomes.push(Err(RequestError::Limited)),
            Err(e) => return Err(e),
        }
    }
    // Each link's lifetime was set when its mail was written.
    write_links_in(&mut work, &links, now).await?;
    work.commit().await?;
    Ok(outcomes)
}

/// The error of a group, for each of its requests: the cause stays in the
/// chain, so an unavailable database still answers 503.
#[derive(Debug)]
struct GroupFailed(Arc<RequestError>);

impl std::fmt::Display for GroupFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "writing a group of reset requests: {}", self.0)
    }
}

impl std::error::Error for GroupFailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self.0.as_ref() {
            RequestError::Internal(e) => Some(e.as_ref()),
            other => Some(other),
        }
    }
}
