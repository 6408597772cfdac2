use std::sync::Arc;

use tokio::sync::Notify;

use crate::accounts::PasswordHasher;
use crate::clock::Clock;
use crate::config::Config;
use crate::recovery::ResetWriter;
use crate::secrets::{SealingKeys, ServerKeys};
use crate::store::Db;

/// What every handler and domain function shares. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    pub db: Db,
    pub config: Arc<Config>,
    pub clock: Arc<Clock>,
    pub hasher: PasswordHasher,
    pub keys: ServerKeys,
    /// Keys kept out of the database, for what a dump must not reveal.
    pub sealing: SealingKeys,
    /// Wakes this instance's mail worker when a message was queued.
    pub mail_queued: Arc<Notify>,
    /// Writes storefront and REST reset requests in groups (src/recovery/group.rs).
    pub resets: Arc<ResetWriter>,
}

impl AppState {
    pub fn now(&self) -> i64 {
        self.clock.now()
    }
}
