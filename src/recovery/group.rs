//! Storefront and REST reset requests are written in groups. A request that
//! arrives while a group is being written joins the next one, so under load one
//! transaction carries every request that came in meanwhile: its commit (the
//! SQLite write lock, the PostgreSQL WAL flush: most of what a request cost
//! alone) is shared, and its writes are one statement per step for the whole
//! group. Alone, a request is a group of one and waits for nobody.
//!
//! The writer is a task of its own, started with the first request: a client
//! that hangs up cannot cut a group short, and each request is written, or
//! refused, whole.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use tokio::sync::{mpsc, oneshot};

use super::{LinkToSend, RequestError, Requester, check_limits_in, limits, write_links_in};
use crate::accounts::Email;
use crate::settings::PasswordOptions;
use crate::state::AppState;
use crate::store::{CustomerRow, RequestKeys};
use crate::work::Work;

/// Requests in one transaction at most.
const MAX_GROUP: usize = 128;
/// Requests waiting for the writer at most; more wait to get in line.
const QUEUE: usize = 1_024;

/// One request for a link, as the writer takes it.
pub(super) struct ResetRequest {
    pub email: Email,
    pub customer: Option<CustomerRow>,
    pub requester: Requester,
}

struct Waiting {
    request: ResetRequest,
    answer: oneshot::Sender<Result<(), RequestError>>,
}

/// The instance's writer of reset requests (in `AppState`).
#[derive(Default)]
pub struct ResetWriter {
    queue: OnceLock<mpsc::Sender<Waiting>>,
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
        let queue = self.queue.get_or_init(|| {
            let (sender, receiver) = mpsc::channel(QUEUE);
            tokio::spawn(write_groups(state.clone(), receiver));
            sender
        });
        let (answer, outcome) = oneshot::channel();
        queue
            .send(Waiting { request, answer })
            .await
            .map_err(|_| anyhow::anyhow!("the reset request writer stopped"))?;
        outcome
            .await
            .map_err(|_| anyhow::anyhow!("the reset request writer dropped a request"))?
    }

    /// How many groups this writer committed.
    pub fn groups_written(&self) -> u64 {
        self.groups.load(Ordering::Relaxed)
    }
}

async fn write_groups(state: AppState, mut queue: mpsc::Receiver<Waiting>) {
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
        match write_group(&state, &requests).await {
            Ok(outcomes) => {
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
        self.request.customer.as_ref().map(|c| c.id)
    }
}

/// One transaction for the group: each request's limits in turn (a refused one
/// leaves nothing), then every allowed link, mail and timeline event with one
/// statement per step. The outcomes in the group's order; an `Err` fails the
/// whole group, with nothing written.
async fn write_group(
    state: &AppState,
    group: &[&ResetRequest],
) -> Result<Vec<Result<(), RequestError>>, RequestError> {
    let options = PasswordOptions::load(&state.db).await?;
    let protection = options.protection_type;
    let now = state.now();
    let mut work = Work::begin(state).await?;
    let mut outcomes = Vec::with_capacity(group.len());
    let mut links = Vec::with_capacity(group.len());
    for request in group {
        let Requester::Visitor { client_ip, via } = request.requester;
        let link = match &request.customer {
            Some(customer) => {
                let link = LinkToSend::new(
                    state,
                    customer,
                    &options,
                    via.to_string(),
                    Some(client_ip),
                    None,
                );
                match link {
                    Ok(link) => Some(link),
                    Err(e) => {
                        outcomes.push(Err(e));
                        continue;
                    }
                }
            }
            None => None,
        };
        let keys = RequestKeys {
            client_ip: protection.counts_ip().then(|| limits::limit_key(client_ip)),
            email_key: protection.counts_email().then(|| request.email.key()),
        };
        match check_limits_in(&mut work, &keys, now, &options).await {
            Ok(()) => {
                match link {
                    Some(link) => links.push(link),
                    None => metrics::counter!("shop_password_reset_requested_total").increment(1),
                }
                outcomes.push(Ok(()));
            }
            Err(RequestError::Limited) => outcomes.push(Err(RequestError::Limited)),
            Err(e) => return Err(e),
        }
    }
    write_links_in(&mut work, &links, now, &options).await?;
    work.commit().await?;
    metrics::counter!("shop_password_reset_groups_total").increment(1);
    state.resets.groups.fetch_add(1, Ordering::Relaxed);
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
